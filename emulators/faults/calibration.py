"""Fault rate, repair time and burstiness from a real fault trace, to calibrate the random fault process.

The trace format is the InfiniteHBD fault trace (stepfun-ai/InfiniteHBD-Trace): a JSON list
of events with ``node_id``, ``event_time`` in days, ``event_type`` ``fault_start`` or
``fault_end``, and ``fault_type`` with ``Level``, ``Class`` and ``Desc``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TraceEvent:
    """One event of a fault trace; ``time_days`` counts from the trace's first event."""

    node: str
    time_days: float
    starts: bool
    level: str
    category: str
    description: str


@dataclass(frozen=True)
class TraceCalibration:
    """Figures derived from a fault trace."""

    faults: int
    nodes_observed: int
    days: float
    repair_median_hours: float
    repair_log_sigma: float
    interarrival_weibull_shape: float

    def rate_per_1000_node_days(self, fleet_nodes: int) -> float:
        """Return faults per 1,000 node-days for a trace taken on ``fleet_nodes`` nodes."""
        return self.faults / (fleet_nodes * self.days) * 1000


def load_trace(path: Path) -> list[TraceEvent]:
    """Read a fault trace.

    Raises:
        ValueError: the file is not a JSON list, or an event misses a field or has a wrong type; the message names the event's index.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON in fault trace {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise ValueError(f"fault trace {path} must be a JSON list of events, got {type(raw).__name__}")

    events = []
    for index, item in enumerate(raw):
        try:
            kind = item["fault_type"]
            event_type = item["event_type"]
            if event_type not in ("fault_start", "fault_end"):
                raise ValueError(f"event_type must be fault_start or fault_end, got {event_type!r}")
            events.append(TraceEvent(
                node=str(item["node_id"]),
                time_days=float(item["event_time"]),
                starts=event_type == "fault_start",
                level=str(kind["Level"]),
                category=str(kind["Class"]),
                description=str(kind["Desc"]),
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"fault trace {path}: event {index} is invalid: {exc!r}") from exc
    return events


def repair_hours(events: list[TraceEvent]) -> np.ndarray:
    """Return the duration in hours of every fault whose start and end are both in the trace.

    A fault's end is matched to the earliest open start with the same node and fault type.
    """
    open_starts: dict[tuple[str, str, str, str], list[float]] = {}
    durations = []
    for event in sorted(events, key=lambda item: (item.time_days, not item.starts)):
        key = (event.node, event.level, event.category, event.description)
        if event.starts:
            open_starts.setdefault(key, []).append(event.time_days)
        elif open_starts.get(key):
            durations.append((event.time_days - open_starts[key].pop(0)) * 24)
    return np.asarray(durations)


def weibull_shape(gaps: np.ndarray) -> float:
    """Return the maximum-likelihood Weibull shape of positive gaps; below 1 means bursty arrivals.

    Raises:
        ValueError: fewer than two positive gaps.
    """
    values = gaps[gaps > 0]
    if len(values) < 2:
        raise ValueError(f"need at least two positive gaps to fit a Weibull shape, got {len(values)}")
    logs = np.log(values)

    def score(shape: float) -> float:
        powered = values**shape
        return 1.0 / shape + float(logs.mean()) - float((powered * logs).sum() / powered.sum())

    low, high = 0.01, 20.0
    for _ in range(100):
        middle = math.sqrt(low * high)
        if score(middle) > 0:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


def calibrate(events: list[TraceEvent]) -> TraceCalibration:
    """Return the fault count, repair-time log-normal fit and inter-arrival burstiness of a trace.

    Raises:
        ValueError: the trace has no fault with a positive repair time.
    """
    starts = sorted(event.time_days for event in events if event.starts)
    hours = repair_hours(events)
    positive = hours[hours > 0]
    if len(positive) == 0:
        raise ValueError("the fault trace has no fault with both a start and a later end")
    logs = np.log(positive)
    return TraceCalibration(
        faults=len(starts),
        nodes_observed=len({event.node for event in events}),
        days=max(event.time_days for event in events) - min(event.time_days for event in events),
        repair_median_hours=float(math.exp(float(np.median(logs)))),
        repair_log_sigma=float(logs.std()),
        interarrival_weibull_shape=weibull_shape(np.diff(starts) * 86_400),
    )
