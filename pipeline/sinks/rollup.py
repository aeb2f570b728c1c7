"""Tumbling event-time windows that turn full-rate telemetry into min, mean and max points.

A rollup point has the measurement and tags of the points it summarises, plus the tag
``resolution`` (for example ``10s``), and is stamped with the window's start. Each float
field ``F`` becomes ``F`` (the mean), ``F_min`` and ``F_max``. An integer field (a counter
or a state code) keeps its last value as ``F`` and adds ``F_min`` and ``F_max``, so every
field keeps the type InfluxDB already has for it. A string or boolean field keeps its last
value, and ``samples`` counts the points in the window. Full-rate points carry
``resolution=raw``, so a query picks one resolution with a tag filter.

A window closes when the watermark is ``lateness_seconds`` past its end. The watermark is
the oldest of the newest event times of each source (a Kafka partition), so a partition
that the consumer reads ahead of the others does not close windows that the others still
fill. A point for a window that is already closed is late: the caller stores it at full rate
instead, so nothing is lost and no closed window is overwritten with a partial one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.sinks.points import PointData

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class _SeriesAggregate:
    measurement: str
    tags: dict[str, str]
    minimum: dict[str, float] = field(default_factory=dict)
    maximum: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    samples: int = 0

    def add(self, fields: dict[str, Any]) -> None:
        self.samples += 1
        for name, value in fields.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.last[name] = value
                continue
            if isinstance(value, int):
                self.last[name] = value
                self.minimum[name] = min(self.minimum.get(name, value), value)
                self.maximum[name] = max(self.maximum.get(name, value), value)
                continue
            number = float(value)
            if name in self.count:
                self.minimum[name] = min(self.minimum[name], number)
                self.maximum[name] = max(self.maximum[name], number)
                self.total[name] += number
                self.count[name] += 1
            else:
                self.minimum[name] = self.maximum[name] = self.total[name] = number
                self.count[name] = 1

    def to_point(self, start: datetime, resolution: str) -> PointData:
        fields: dict[str, Any] = dict(self.last)
        for name, count in self.count.items():
            fields[name] = self.total[name] / count
        for name in self.minimum:
            fields[f"{name}_min"] = self.minimum[name]
            fields[f"{name}_max"] = self.maximum[name]
        fields["samples"] = self.samples
        return PointData(self.measurement, dict(self.tags, resolution=resolution), fields, start)


@dataclass
class _Window:
    series: dict[tuple[str, tuple[tuple[str, str], ...]], _SeriesAggregate] = field(default_factory=dict)
    holds: list[Hashable] = field(default_factory=list)


@dataclass(frozen=True)
class ClosedWindows:
    """Rollup points of the windows that just closed, and what the caller held for them."""

    points: list[PointData]
    holds: list[Hashable]


class RollupWindows:
    """Aggregate points into tumbling windows of ``window_seconds`` of event time."""

    def __init__(self, window_seconds: int = 10, lateness_seconds: float = 2.0) -> None:
        if window_seconds < 1:
            raise ValueError(f"window_seconds must be at least 1, got {window_seconds}")
        if lateness_seconds < 0:
            raise ValueError(f"lateness_seconds must be >= 0, got {lateness_seconds}")
        self.window_seconds = window_seconds
        self.lateness = timedelta(seconds=lateness_seconds)
        self.resolution = f"{window_seconds}s"
        self._windows: dict[datetime, _Window] = {}
        self._closed_before: datetime | None = None
        self._source_times: dict[Hashable, datetime] = {}

    def window_start(self, time: datetime) -> datetime:
        """Return the start of the window that contains ``time``."""
        seconds = int((time - EPOCH).total_seconds() // self.window_seconds) * self.window_seconds
        return EPOCH + timedelta(seconds=seconds)

    def is_late(self, time: datetime) -> bool:
        """Return True when the window of ``time`` was already closed and written."""
        return self._closed_before is not None and self.window_start(time) < self._closed_before

    @property
    def watermark(self) -> datetime | None:
        """The oldest of the sources' newest event times, or None before the first point."""
        return min(self._source_times.values(), default=None)

    def add(self, points: Iterable[PointData], time: datetime, hold: Hashable | None = None, source: Hashable = None) -> None:
        """Add one message's points (all at ``time``) and keep ``hold`` until their window closes.

        ``source`` names the ordered stream the message came from, such as its Kafka
        partition; each source moves the watermark separately.

        Raises:
            ValueError: the window of ``time`` is already closed; check ``is_late`` first.
        """
        if self.is_late(time):
            raise ValueError(f"event time {time.isoformat()} falls in a window that is already closed")
        start = self.window_start(time)
        window = self._windows.setdefault(start, _Window())
        for point in points:
            key = (point.measurement, tuple(sorted(point.tags.items())))
            aggregate = window.series.get(key)
            if aggregate is None:
                aggregate = window.series[key] = _SeriesAggregate(point.measurement, point.tags)
            aggregate.add(point.fields)
        if hold is not None:
            window.holds.append(hold)
        newest = self._source_times.get(source)
        if newest is None or time > newest:
            self._source_times[source] = time

    def close_ready(self) -> ClosedWindows:
        """Close every window that ended ``lateness_seconds`` or more before the watermark."""
        watermark = self.watermark
        if watermark is None:
            return ClosedWindows([], [])
        limit = watermark - self.lateness
        ready = [start for start in self._windows if start + timedelta(seconds=self.window_seconds) <= limit]
        return self._close(ready)

    def close_all(self) -> ClosedWindows:
        """Close every open window, for example when input has been idle for a while."""
        return self._close(list(self._windows))

    @property
    def open_windows(self) -> int:
        """Number of windows not closed yet."""
        return len(self._windows)

    def _close(self, starts: list[datetime]) -> ClosedWindows:
        points: list[PointData] = []
        holds: list[Hashable] = []
        for start in sorted(starts):
            window = self._windows.pop(start)
            points += [aggregate.to_point(start, self.resolution) for aggregate in window.series.values()]
            holds += window.holds
            end = start + timedelta(seconds=self.window_seconds)
            if self._closed_before is None or end > self._closed_before:
                self._closed_before = end
        return ClosedWindows(points, holds)
