"""Tests that build every board and check its JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.boards import build_all
from dashboards.generate import render, to_dict
from dashboards.queries import raw_queries

BOARDS = [to_dict(board) for board in build_all()]
GRID_COLUMNS = 24
DATASOURCE = {"type": "influxdb", "uid": "${datasource}"}
# Grafana's InfluxDB macros and alias patterns, which are not template variables.
NOT_VARIABLES = {"timeFilter", "__interval", "col", "m"}


def board_id(board: dict[str, Any]) -> str:
    """Return a board's uid as test id."""
    return str(board["uid"])


def data_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every panel that is not a row, including panels nested in rows."""
    panels = []
    for panel in board["panels"]:
        if panel["type"] != "row":
            panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def test_boards_exist() -> None:
    assert [board["uid"] for board in BOARDS] == ["qianliyan-cluster", "qianliyan-stability", "qianliyan-hardware", "qianliyan-pipeline"]


def test_board_uids_unique() -> None:
    uids = [board["uid"] for board in BOARDS]
    assert len(uids) == len(set(uids))


def test_board_titles_unique() -> None:
    titles = [board["title"] for board in BOARDS]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_board_uid_fits_grafana(board: dict[str, Any]) -> None:
    # Grafana accepts uids of at most 40 characters from letters, digits, '-' and '_'.
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"])


@pytest.mark.parametrize("board", build_all(), ids=lambda board: str(board.uid))
def test_board_json_sorted_and_valid(board: Dashboard) -> None:
    text = render(board)
    document = json.loads(text)
    assert text == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert document["schemaVersion"] >= 39


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_board_parses_with_sdk(board: dict[str, Any]) -> None:
    parsed = Dashboard.from_json(board)
    assert parsed.uid == board["uid"]
    assert len(parsed.panels or []) == len(board["panels"])


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panel_ids_unique(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert min(ids) >= 1


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panels_have_datasource(board: dict[str, Any]) -> None:
    for panel in data_panels(board):
        assert panel.get("datasource") == DATASOURCE, panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panels_have_influxql_targets(board: dict[str, Any]) -> None:
    for panel in data_panels(board):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["rawQuery"] is True, panel["title"]
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["query"].startswith("SELECT "), panel["title"]
            assert target["resultFormat"] in ("time_series", "table"), panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panel_ref_ids_unique(board: dict[str, Any]) -> None:
    for panel in data_panels(board):
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panels_described(board: dict[str, Any]) -> None:
    for panel in data_panels(board):
        assert panel["title"], panel
        assert panel.get("description"), panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panel_titles_unique(board: dict[str, Any]) -> None:
    titles = [panel["title"] for panel in data_panels(board)]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panels_fit_grid(board: dict[str, Any]) -> None:
    for panel in board["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= GRID_COLUMNS, panel["title"]
        assert position["h"] >= 1, panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_panels_do_not_overlap(board: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        position = panel["gridPos"]
        for x in range(position["x"], position["x"] + position["w"]):
            for y in range(position["y"], position["y"] + position["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells.get((x, y))}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_query_variables_defined(board: dict[str, Any]) -> None:
    defined = {variable["name"] for variable in board["templating"]["list"]}
    for _, title, _, query in raw_queries(board):
        used = {name for pair in re.findall(r"\$\{(\w+)\}|\$(\w+)", query) for name in pair if name}
        used = {name for name in used if name not in NOT_VARIABLES and not name.startswith("tag_")}
        assert used <= defined, title


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_variables_used_as_anchored_regex(board: dict[str, Any]) -> None:
    for _, title, _, query in raw_queries(board):
        for match in re.finditer(r"\$(\w+)", query):
            name = match.group(1)
            if name in NOT_VARIABLES or name.startswith("tag_"):
                continue
            assert query[match.start() - 2 : match.start()] == "/^", f"{title}: ${name}"
            assert query[match.end() : match.end() + 2] == "$/", f"{title}: ${name}"


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_queries_bounded_by_time(board: dict[str, Any]) -> None:
    for kind, title, _, query in raw_queries(board):
        if kind != "variable":
            assert "$timeFilter" in query, title


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_datasource_variable_first(board: dict[str, Any]) -> None:
    first = board["templating"]["list"][0]
    assert first["name"] == "datasource"
    assert first["type"] == "datasource"
    assert first["query"] == "influxdb"


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_multi_variables_match_all(board: dict[str, Any]) -> None:
    for variable in board["templating"]["list"]:
        if variable.get("includeAll"):
            assert variable["allValue"] == ".*", variable["name"]


@pytest.mark.parametrize("board", BOARDS, ids=board_id)
def test_builtin_annotation_first(board: dict[str, Any]) -> None:
    first = board["annotations"]["list"][0]
    assert first["builtIn"] == 1
    assert first["datasource"]["type"] == "grafana"


def test_stability_annotations_mark_incidents() -> None:
    board = next(board for board in BOARDS if board["uid"] == "qianliyan-stability")
    names = [item["name"] for item in board["annotations"]["list"]]
    assert names == ["Annotations & Alerts", "Incidents", "Actions"]


def test_hardware_variables() -> None:
    board = next(board for board in BOARDS if board["uid"] == "qianliyan-hardware")
    names = [variable["name"] for variable in board["templating"]["list"]]
    assert names == ["datasource", "cluster", "rack", "node", "gpu"]


@pytest.mark.parametrize(
    ("uid", "panel_type", "minimum"),
    [
        ("qianliyan-cluster", "heatmap", 6),
        ("qianliyan-stability", "state-timeline", 1),
        ("qianliyan-stability", "table", 2),
        ("qianliyan-hardware", "timeseries", 10),
        ("qianliyan-pipeline", "stat", 4),
    ],
)
def test_board_panel_kinds(uid: str, panel_type: str, minimum: int) -> None:
    board = next(board for board in BOARDS if board["uid"] == uid)
    assert sum(panel["type"] == panel_type for panel in data_panels(board)) >= minimum
