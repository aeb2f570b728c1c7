"""Draw the report's plots as inline SVG: signal lines, the incident window and event marks.

The SVG is written by hand instead of with a plotting library, so the page needs no extra
dependency and no external resource. The ``svg`` elements have no ``xmlns`` attribute
because HTML5 puts inline SVG into the SVG namespace itself. Every text goes through
``html.escape``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Final

from pipeline.report.models import Series, Signal

WIDTH: Final = 1100
LEFT: Final = 110
RIGHT: Final = 24
TOP: Final = 40
BOTTOM: Final = 34

PALETTE: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
MARK_STYLES: Final = {
    "anomaly": ("#d62728", "1", "0.45", ""),
    "event": ("#e07b00", "1.2", "0.8", "4 3"),
    "action": ("#1a4fd6", "1.6", "0.9", ""),
}
TIME_STEPS_SECONDS: Final = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Mark:
    """A vertical line on every plot: an anomaly, a hardware event or an action."""

    time: datetime
    kind: str
    label: str


@dataclass(frozen=True)
class TimeAxis:
    """Map times of the report window to x pixels of a plot."""

    start: datetime
    end: datetime

    def x(self, moment: datetime) -> float:
        """Return the x pixel of ``moment``, clamped to the plot area."""
        span = max((self.end - self.start).total_seconds(), 1e-9)
        fraction = min(max((moment - self.start).total_seconds() / span, 0.0), 1.0)
        return LEFT + fraction * (WIDTH - LEFT - RIGHT)


def signal_plot(signal: Signal, axis: TimeAxis, incident: tuple[datetime, datetime], marks: list[Mark], height: int = 240) -> str:
    """Return the SVG plot of one signal with the incident shaded and the marks drawn."""
    low, high = value_range(signal.series)
    ticks = nice_ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])

    def y(value: float) -> float:
        return TOP + (1 - (value - low) / (high - low)) * (height - TOP - BOTTOM)

    parts = [_frame(height), _incident_band(axis, incident, height), _time_grid(axis, height)]
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">{escape(format_number(tick))}</text>'
        )
    for index, series in enumerate(signal.series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(_band(series, axis, y, colour))
        parts.append(_line(series, axis, y, colour))
    parts.append(_marks(axis, marks, height))
    title = f"{signal.title} ({signal.unit}), {signal.measurement}.{signal.field}, resolution {signal.resolution}"
    parts.append(f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>')
    parts.append(_legend([series.label for series in signal.series]))
    return _svg(height, "".join(parts), f"Plot of {signal.title}")


def timeline_plot(axis: TimeAxis, incident: tuple[datetime, datetime], lanes: dict[str, list[Mark]]) -> str:
    """Return the SVG overview: one lane per kind of mark, with the incident shaded."""
    lane_height = 30
    height = TOP + BOTTOM + lane_height * len(lanes)
    parts = [_frame(height), _incident_band(axis, incident, height), _time_grid(axis, height)]
    for index, (name, marks) in enumerate(lanes.items()):
        middle = TOP + lane_height * index + lane_height / 2
        parts.append(f'<text x="{LEFT - 6}" y="{middle + 4:.1f}" text-anchor="end" class="tick">{escape(name)}</text>')
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{middle:.1f}" y2="{middle:.1f}" class="grid"/>')
        for mark in marks:
            colour = MARK_STYLES.get(mark.kind, MARK_STYLES["anomaly"])[0]
            parts.append(
                f'<circle cx="{axis.x(mark.time):.1f}" cy="{middle:.1f}" r="5" fill="{colour}" fill-opacity="0.75">'
                f"<title>{escape(mark.label)}</title></circle>"
            )
    parts.append(f'<text x="{LEFT}" y="16" class="title">{escape("Timeline: incident window shaded")}</text>')
    return _svg(height, "".join(parts), "Timeline of anomalies, hardware events and actions")


def value_range(series: tuple[Series, ...]) -> tuple[float, float]:
    """Return the lowest and highest value of the series, band included, never an empty range."""
    values = [value for one in series for value in one.values]
    values += [value for one in series for value in one.lows + one.highs if value is not None]
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-9:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    return low, high


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return about ``count`` round tick values that cover ``low`` to ``high``."""
    raw_step = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw_step)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return [first + index * step for index in range(int(round((last - first) / step)) + 1)]


def format_number(value: float) -> str:
    """Return a short label for an axis value: no trailing zeros, thousands as k."""
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{round(value, 6):g}"


def time_ticks(start: datetime, end: datetime, max_ticks: int = 8) -> tuple[list[datetime], int]:
    """Return round tick times within the window and the step in seconds."""
    span = max((end - start).total_seconds(), 1.0)
    step = next((seconds for seconds in TIME_STEPS_SECONDS if span / seconds <= max_ticks), TIME_STEPS_SECONDS[-1])
    epoch_seconds = start.timestamp()
    first = start + timedelta(seconds=math.ceil(epoch_seconds / step) * step - epoch_seconds)
    ticks = []
    moment = first
    while moment <= end:
        ticks.append(moment)
        moment += timedelta(seconds=step)
    return ticks, step


def _svg(height: int, body: str, label: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def _frame(height: int) -> str:
    return f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{height - TOP - BOTTOM}" class="frame"/>'


def _incident_band(axis: TimeAxis, incident: tuple[datetime, datetime], height: int) -> str:
    left, right = axis.x(incident[0]), axis.x(incident[1])
    return f'<rect x="{left:.1f}" y="{TOP}" width="{max(right - left, 2.0):.1f}" height="{height - TOP - BOTTOM}" class="incident"/>'


def _time_grid(axis: TimeAxis, height: int) -> str:
    ticks, step = time_ticks(axis.start, axis.end)
    pattern = "%H:%M:%S" if step < 60 else "%H:%M"
    parts = []
    for tick in ticks:
        x = axis.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" class="grid"/>'
            f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle" class="tick">{tick.strftime(pattern)}</text>'
        )
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{height - 4}" text-anchor="end" class="tick">time (UTC)</text>')
    return "".join(parts)


def _line(series: Series, axis: TimeAxis, y: Callable[[float], float], colour: str) -> str:
    parts = []
    for segment in _segments(series.times):
        points = " ".join(f"{axis.x(series.times[i]):.1f},{y(series.values[i]):.1f}" for i in segment)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
    return f'<g><title>{escape(series.label)}</title>{"".join(parts)}</g>'


def _band(series: Series, axis: TimeAxis, y: Callable[[float], float], colour: str) -> str:
    if not series.lows or not series.highs:
        return ""
    parts = []
    for segment in _segments(series.times):
        kept = [(series.times[i], low, high) for i in segment
                if (low := series.lows[i]) is not None and (high := series.highs[i]) is not None]
        if len(kept) < 2:
            continue
        upper = [f"{axis.x(moment):.1f},{y(high):.1f}" for moment, _, high in kept]
        lower = [f"{axis.x(moment):.1f},{y(low):.1f}" for moment, low, _ in reversed(kept)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.12" stroke="none"/>')
    return "".join(parts)


def _segments(times: tuple[datetime, ...]) -> list[list[int]]:
    """Split a series where a gap is longer than five times the median spacing, so gaps stay visible."""
    if len(times) < 2:
        return [list(range(len(times)))]
    gaps = sorted((b - a).total_seconds() for a, b in zip(times, times[1:]))
    limit = max(gaps[len(gaps) // 2] * 5, 1.0)
    segments, current = [], [0]
    for index in range(1, len(times)):
        if (times[index] - times[index - 1]).total_seconds() > limit:
            segments.append(current)
            current = []
        current.append(index)
    segments.append(current)
    return segments


def _marks(axis: TimeAxis, marks: list[Mark], height: int) -> str:
    parts = []
    for mark in marks:
        colour, width, opacity, dash = MARK_STYLES.get(mark.kind, MARK_STYLES["anomaly"])
        x = axis.x(mark.time)
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="{colour}" '
            f'stroke-width="{width}" stroke-opacity="{opacity}"{dash_attribute}><title>{escape(mark.label)}</title></line>'
        )
    return "".join(parts)


def _legend(labels: list[str]) -> str:
    parts = []
    x = float(WIDTH - RIGHT)
    for index, label in reversed(list(enumerate(labels))):
        x -= 14 + 7 * len(label)
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.0f}" y="22" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 13:.0f}" y="31" class="legend">{escape(label)}</text>'
        )
    return "".join(parts)
