"""Node repair times from a real fault trace, for the spare pool of the ETTR study.

The trace is InfiniteHBD's (Shou et al., SIGCOMM 2025): 584 fault start and end pairs on
231 GPU servers over 348 days. A repair time is the span from a node's ``fault_start`` to
the matching ``fault_end`` of the same fault type. The study resamples the spans of the
"Hardware Failure" level, because only hardware faults take a node out of the job.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np

from emulators.ettr_study.model import SECONDS_PER_DAY
from pipeline.errors import QianliyanError

DEFAULT_FAULT_TRACE: Final[Path] = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "infinitehbd-fault-trace" / "fault_trace.json"
)
HARDWARE_LEVEL: Final[str] = "Hardware Failure"


class FaultTraceError(QianliyanError, ValueError):
    """The fault trace is missing or does not hold usable start and end pairs."""


def _fault_key(event: dict[str, object]) -> tuple[str, str]:
    fault_type = event["fault_type"]
    if not isinstance(fault_type, dict):
        raise FaultTraceError(f"fault trace event has no fault_type object: {event!r}")
    return str(event["node_id"]), json.dumps(fault_type, sort_keys=True)


def _pair_durations_days(events: list[dict[str, object]], level: str) -> list[float]:
    open_starts: dict[tuple[str, str], list[float]] = {}
    durations: list[float] = []
    for event in sorted(events, key=lambda item: float(item["event_time"])):  # type: ignore[arg-type]
        fault_type = event["fault_type"]
        if not isinstance(fault_type, dict) or fault_type.get("Level") != level:
            continue
        key = _fault_key(event)
        time_days = float(event["event_time"])  # type: ignore[arg-type]
        if event["event_type"] == "fault_start":
            open_starts.setdefault(key, []).append(time_days)
        elif event["event_type"] == "fault_end" and open_starts.get(key):
            durations.append(time_days - open_starts[key].pop(0))
    return durations


@lru_cache(maxsize=4)
def load_repair_seconds(path: Path = DEFAULT_FAULT_TRACE, level: str = HARDWARE_LEVEL) -> np.ndarray:
    """Load the repair times of one fault level from an InfiniteHBD-format trace.

    Args:
        path: JSON list of events with node_id, event_time (days), event_type and fault_type.
        level: the ``fault_type.Level`` whose start and end pairs count.

    Returns:
        Sorted repair times in seconds, read-only.

    Raises:
        FaultTraceError: the file is missing, is not JSON, or has no pair of that level.
    """
    try:
        events = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise FaultTraceError(
            f"fault trace not found at {path}; pass --fault-trace with the path of fault_trace.json"
        ) from exc
    except json.JSONDecodeError as exc:
        raise FaultTraceError(f"fault trace {path} is not valid JSON: {exc}") from exc
    if not isinstance(events, list):
        raise FaultTraceError(f"fault trace {path} must hold a JSON list of events, got {type(events).__name__}")

    durations = _pair_durations_days(events, level)
    if not durations:
        raise FaultTraceError(f"fault trace {path} has no fault_start/fault_end pair with Level {level!r}")
    seconds = np.sort(np.asarray(durations, dtype=float) * SECONDS_PER_DAY)
    seconds.setflags(write=False)
    return seconds
