"""InfluxQL building blocks of the report queries: literals, time ranges and result rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def rows_of(series: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten InfluxQL series into one dict per point, with group tags and ``time`` as a UTC datetime."""
    rows = []
    for one in series:
        tags = one.get("tags") or {}
        columns = one["columns"]
        for values in one.get("values", []):
            row = dict(tags)
            row.update(zip(columns, values))
            row["time"] = from_nanoseconds(int(row["time"]))
            rows.append(row)
    return rows


def literal(value: str) -> str:
    """Return ``value`` as a quoted InfluxQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def time_range(start: datetime, end: datetime) -> str:
    """Return the InfluxQL condition ``start <= time <= end`` in epoch nanoseconds."""
    return f"time >= {to_nanoseconds(start)} AND time <= {to_nanoseconds(end)}"


def to_nanoseconds(moment: datetime) -> int:
    """Return nanoseconds since the Unix epoch of an aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_nanoseconds(nanoseconds: int) -> datetime:
    """Return the UTC datetime of epoch nanoseconds (microsecond resolution, like datetime)."""
    return EPOCH + timedelta(microseconds=nanoseconds // 1_000)
