"""Every InfluxQL query of every board, with template variables filled, for running against InfluxDB.

An integration test can call :func:`board_queries` and send each statement to InfluxDB's
``/query`` endpoint to show that every panel, annotation and variable query parses and
runs on the InfluxDB version at hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from dashboards.boards import build_all
from dashboards.generate import to_dict

QueryKind = Literal["panel", "annotation", "variable"]

DEFAULT_TIME_FILTER: Final = "time >= now() - 1h"
DEFAULT_INTERVAL: Final = "10s"

# $name or ${name}; Grafana's macros $timeFilter and $__interval are variables of this form too.
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class BoardQuery:
    """One InfluxQL statement of a board, as written in the board and with variables filled."""

    board_uid: str
    kind: QueryKind
    title: str
    ref_id: str
    template: str
    query: str


def fill(template: str, values: Mapping[str, str | Sequence[str]], *, time_filter: str = DEFAULT_TIME_FILTER, interval: str = DEFAULT_INTERVAL) -> str:
    """Replace Grafana's variables and macros in one query, as Grafana does for InfluxDB.

    A list of values becomes a regular expression alternation ``(a|b)`` of the escaped
    values, which is how Grafana formats a multi-value variable inside ``/^...$/``. A
    variable without a value becomes ``.*``, the "All" value of the boards. Grafana's
    alias patterns (``$tag_rack``, ``$col``, ``$m``) stay as they are.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name == "timeFilter":
            return time_filter
        if name == "__interval":
            return interval
        if name.startswith("tag_") or name in ("col", "m"):
            return match.group(0)
        value = values.get(name)
        if value is None:
            return ".*"
        if isinstance(value, str):
            return _escape(value)
        return "(" + "|".join(_escape(item) for item in value) + ")"

    return _VARIABLE.sub(replace, template)


def board_queries(
    values: Mapping[str, str | Sequence[str]] | None = None,
    *,
    time_filter: str = DEFAULT_TIME_FILTER,
    interval: str = DEFAULT_INTERVAL,
) -> list[BoardQuery]:
    """Return every panel, annotation and variable query of every board, filled with ``values``.

    Args:
        values: Template variable values by name, for example ``{"rack": "r000", "gpu": ["0", "1"]}``.
            Unset variables match everything.
        time_filter: Replaces ``$timeFilter``.
        interval: Replaces ``$__interval``, an InfluxQL duration such as ``10s``.
    """
    found = []
    for board in build_all():
        for kind, title, ref_id, template in raw_queries(to_dict(board)):
            query = fill(template, values or {}, time_filter=time_filter, interval=interval)
            found.append(BoardQuery(board_uid=board.uid or "", kind=kind, title=title, ref_id=ref_id, template=template, query=query))
    return found


def raw_queries(board: Mapping[str, Any]) -> Iterable[tuple[QueryKind, str, str, str]]:
    """Yield (kind, title, ref_id, query) for each query in a board's JSON, variables unfilled."""
    for panel in _panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            yield "panel", panel.get("title", ""), target.get("refId", ""), target.get("query", "")
    for item in board.get("annotations", {}).get("list", []):
        target = item.get("target", {})
        if "query" in target:
            yield "annotation", item.get("name", ""), target.get("refId", ""), target["query"]
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield "variable", variable.get("name", ""), "", variable.get("query", "")


def _escape(value: str) -> str:
    # "/" ends an InfluxQL regular expression literal, so it needs a backslash as well.
    return re.escape(value).replace("/", "\\/")


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))
