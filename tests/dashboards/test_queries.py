"""Tests of the list of board queries and the filling of template variables."""

from __future__ import annotations

import pytest

from dashboards.queries import board_queries, fill
from tests.dashboards.test_boards import BOARDS, data_panels


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ('"rack" =~ /^$rack$/', {"rack": "r000"}, '"rack" =~ /^r000$/'),
        ('"rack" =~ /^$rack$/', {"rack": ["r000", "r001"]}, '"rack" =~ /^(r000|r001)$/'),
        ('"rack" =~ /^$rack$/', {}, '"rack" =~ /^.*$/'),
        ('"node" =~ /^$node$/', {"node": "r0-n.1"}, '"node" =~ /^r0\\-n\\.1$/'),
        ('"node" =~ /^$node$/', {"node": "a/b"}, '"node" =~ /^a\\/b$/'),
        ('"uid" = \'${datasource}\'', {"datasource": "x"}, '"uid" = \'x\''),
        ("WHERE $timeFilter GROUP BY time($__interval)", {}, "WHERE time >= now() - 1h GROUP BY time(10s)"),
        ("$tag_rack $col $m", {}, "$tag_rack $col $m"),
    ],
    ids=["single", "multi", "unset-all", "escaped", "slash", "braces", "macros", "aliases"],
)
def test_fill_replaces_variables(template: str, values: dict[str, str | list[str]], expected: str) -> None:
    assert fill(template, values) == expected


def test_fill_custom_time_range() -> None:
    assert fill("$timeFilter $__interval", {}, time_filter="time > 0", interval="1m") == "time > 0 1m"


def test_board_queries_cover_every_target() -> None:
    targets = sum(len(panel["targets"]) for board in BOARDS for panel in data_panels(board))
    assert sum(query.kind == "panel" for query in board_queries()) == targets


def test_board_queries_leave_no_variables() -> None:
    for query in board_queries({"rack": "r000", "node": "r000-n00", "gpu": ["0", "1"]}):
        assert "$" not in query.query.replace("$/", ""), query.title


def test_board_queries_keep_template() -> None:
    query = next(query for query in board_queries({"rack": "r000"}) if query.title == "GPU temperature by rack")
    assert "/^$rack$/" in query.template
    assert "/^r000$/" in query.query
    assert query.board_uid == "qianliyan-cluster"
    assert query.ref_id == "A"


def test_board_queries_include_annotations_and_variables() -> None:
    kinds = {query.kind for query in board_queries()}
    assert kinds == {"panel", "annotation", "variable"}


def test_counter_rate_scale_plain_decimal() -> None:
    from dashboards.influxql import counter_rate

    assert counter_rate("x", 1e-9) == 'non_negative_derivative(max("x"), 1s) * 0.000000001'
    assert counter_rate("x", 8) == 'non_negative_derivative(max("x"), 1s) * 8'
    assert counter_rate("x") == 'non_negative_derivative(max("x"), 1s)'
