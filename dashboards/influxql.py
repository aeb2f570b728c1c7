"""InfluxQL query text and the Grafana query objects (targets) that carry it.

Grafana's foundation SDK has no InfluxDB query type, so :class:`InfluxQLTarget` and
:class:`InfluxQLAnnotationTarget` write the JSON that Grafana's InfluxDB data source
reads in raw InfluxQL mode. Every identifier in a query is double-quoted, and every
template variable is used as an anchored regular expression (``=~ /^$rack$/``), so that
the "All" value ``.*`` and multi-value selections both work.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final, Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import AnnotationTarget, DataSourceRef

# Grafana replaces these macros of its InfluxDB data source in InfluxQL queries.
TIME_FILTER: Final = "$timeFilter"
INTERVAL: Final = "$__interval"

# Panels and variables use the data source that the variable ``datasource`` selects.
DATASOURCE: Final = DataSourceRef(type_val="influxdb", uid="${datasource}")

ResultFormat = Literal["time_series", "table"]


def quote(identifier: str) -> str:
    """Return an InfluxQL identifier in double quotes."""
    return '"' + identifier.replace('"', '\\"') + '"'


def matches(tag: str, variable: str) -> str:
    """Return the condition that ``tag`` matches the template variable ``variable``."""
    return f"{quote(tag)} =~ /^${variable}$/"


def select(
    expressions: str,
    measurement: str,
    conditions: Sequence[str] = (),
    *,
    group_by: Sequence[str] = (),
    by_time: bool = True,
    fill: str | None = "null",
    tail: str = "",
) -> str:
    """Return one InfluxQL SELECT statement over the dashboard's time range.

    Args:
        expressions: The SELECT clause, for example ``mean("DCGM_FI_DEV_GPU_TEMP")``.
        measurement: Measurement name, quoted here.
        conditions: WHERE conditions joined by AND; the time filter is added.
        group_by: Tags to group by, quoted here.
        by_time: Group by ``time($__interval)`` as well.
        fill: FILL option of time grouping; None leaves it out.
        tail: Text appended at the end, such as ``ORDER BY time DESC LIMIT 100``.
    """
    where = " AND ".join([*conditions, TIME_FILTER])
    groups = [f"time({INTERVAL})"] if by_time else []
    groups.extend(quote(tag) for tag in group_by)
    statement = f"SELECT {expressions} FROM {quote(measurement)} WHERE {where}"
    if groups:
        statement += " GROUP BY " + ", ".join(groups)
    if by_time and fill is not None:
        statement += f" fill({fill})"
    if tail:
        statement += f" {tail}"
    return statement


def counter_rate(field: str, scale: float = 1.0) -> str:
    """Return the per-second rate of a cumulative counter, times ``scale``, for use with time grouping.

    ``non_negative_derivative`` drops the negative step of a counter reset. The scale is
    written in plain decimal notation because InfluxQL reads ``1e-09`` as a bad duration.
    """
    rate = f"non_negative_derivative(max({quote(field)}), 1s)"
    return rate if scale == 1.0 else f"{rate} * {format(Decimal(repr(scale)), 'f')}"


class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL query of a panel."""

    def __init__(self, ref_id: str, query: str, alias: str = "", result_format: ResultFormat = "time_series") -> None:
        self.ref_id = ref_id
        self.query = query
        self.alias = alias
        self.result_format = result_format

    def to_json(self) -> dict[str, object]:
        """Return the query in the JSON form of Grafana's InfluxDB data source."""
        document: dict[str, object] = {
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias:
            document["alias"] = self.alias
        return document


class InfluxQLTarget(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of :class:`InfluxQLQuery`, for ``Panel.with_target``."""

    def __init__(self, ref_id: str, query: str, alias: str = "", result_format: ResultFormat = "time_series") -> None:
        self._query = InfluxQLQuery(ref_id, query, alias, result_format)

    def build(self) -> InfluxQLQuery:
        """Return the query."""
        return self._query


class InfluxQLAnnotationTarget(AnnotationTarget):
    """InfluxQL query of an annotation, with the columns that give text, tags and end time."""

    def __init__(self, query: str, text_column: str, tags_column: str = "", time_end_column: str = "") -> None:
        super().__init__()
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column
        self.time_end_column = time_end_column

    def to_json(self) -> dict[str, object]:
        """Return the target in the JSON form of Grafana's InfluxDB annotation editor."""
        return {
            "fromAnnotations": True,
            "query": self.query,
            "rawQuery": True,
            "refId": "Anno",
            "tagsColumn": self.tags_column,
            "textColumn": self.text_column,
            "textEditor": True,
            "timeEndColumn": self.time_end_column,
        }


class AnnotationTargetBuilder(cogbuilder.Builder[AnnotationTarget]):
    """Builder of :class:`InfluxQLAnnotationTarget`, for ``AnnotationQuery.target``."""

    def __init__(self, target: InfluxQLAnnotationTarget) -> None:
        self._target = target

    def build(self) -> InfluxQLAnnotationTarget:
        """Return the target."""
        return self._target
