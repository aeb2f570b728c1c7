"""Numenta Anomaly Benchmark (NAB): one univariate series as generic telemetry.

A NAB series is ``data/<category>/<name>.csv`` with the header ``timestamp,value`` and
one ``YYYY-MM-DD HH:MM:SS`` time stamp (UTC) and number per row.
``labels/combined_windows.json`` maps each series path to its anomaly windows, each a
``[start, end]`` pair of time stamps. Each window becomes one
:class:`~pipeline.schemas.FaultTruth` record, published just before the first row at or
after the window's start.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from emulators.cluster import Record
from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.messages import build_record
from emulators.replay.timing import TimeShift
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION, FaultTruth, GenericTelemetry

logger = logging.getLogger(__name__)

HEADER: Final = "timestamp,value"
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
WINDOWS_FILE: Final = Path("labels") / "combined_windows.json"
SOURCE: Final = "nab"
FAULT_KIND: Final = "nab_anomaly_window"


def series_name(series: str) -> str:
    """Return a series path without the ``.csv`` suffix, with '/' separators."""
    name = series.strip().replace("\\", "/").strip("/")
    return name[: -len(".csv")] if name.endswith(".csv") else name


def list_series(root: Path) -> list[str]:
    """Return every series under ``root/data``, as ``category/name`` without suffix."""
    data_dir = root / "data"
    return sorted(path.relative_to(data_dir).with_suffix("").as_posix() for path in data_dir.glob("*/*.csv"))


def read_windows(root: Path, series: str) -> list[tuple[datetime, datetime]]:
    """Return the anomaly windows of one series from ``labels/combined_windows.json``.

    Raises:
        ReplayInputError: the labels file is missing or has no entry for the series.
        ReplayParseError: the file is not JSON or a window is not a pair of time stamps.
    """
    path = root / WINDOWS_FILE
    if not path.is_file():
        raise ReplayInputError(f"NAB labels not found at {path}; pass --no-labels to replay without them")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReplayParseError(str(path), exc.lineno, f"invalid JSON: {exc.msg}") from exc
    key = f"{series}.csv"
    if not isinstance(document, dict) or key not in document:
        raise ReplayInputError(f"{path} has no windows for {key!r}; pass --no-labels to replay without them")

    windows = []
    for index, window in enumerate(document[key]):
        if not (isinstance(window, list) and len(window) == 2 and all(isinstance(item, str) for item in window)):
            raise ReplayParseError(str(path), None, f"window {index} of {key!r} is {window!r}; expected [start, end] time stamps")
        try:
            first, last = (_parse_time(item) for item in window)
        except ValueError as exc:
            raise ReplayParseError(str(path), None, f"window {index} of {key!r}: {exc}") from exc
        windows.append((first, last))
    return sorted(windows)


def nab_records(
    root: Path,
    series: str,
    *,
    start: datetime | None = None,
    cluster: str = "default",
    labels: bool = True,
) -> Iterator[Record]:
    """Return a NAB series as generic telemetry and its label windows as fault truth.

    Inputs are checked and windows read at the call; rows are read lazily. Time stamps
    are kept (as UTC) unless ``start`` is given: then every time, windows included,
    moves by the offset that puts the first row on ``start``.

    Raises:
        ReplayInputError: the series file is missing, or its labels are.
        ReplayParseError: the header, a time stamp or a value is malformed.
    """
    name = series_name(series)
    path = root / "data" / f"{name}.csv"
    if not path.is_file():
        raise ReplayInputError(f"NAB series {name!r} not found at {path}; series look like realKnownCause/nyc_taxi")
    windows = read_windows(root, name) if labels else []
    return _series_records(path, name, windows, TimeShift(start), cluster)


def _series_records(path: Path, name: str, windows: list[tuple[datetime, datetime]], shift: TimeShift, cluster: str) -> Iterator[Record]:
    source = str(path)
    pending = list(enumerate(windows))
    with path.open(encoding="utf-8") as lines:
        header = next(lines, "").strip()
        if header != HEADER:
            raise ReplayParseError(source, 1, f"invalid header {header!r}; expected {HEADER!r}")
        for line, text in enumerate(lines, start=2):
            moment, value = _parse_row(text, source, line)
            event_time = shift.apply(moment)
            while pending and pending[0][1][0] <= moment:
                index, window = pending.pop(0)
                yield _fault_record(name, index, window, shift, cluster)
            message = {
                "schema_version": SCHEMA_VERSION,
                "time": event_time,
                "cluster": cluster,
                "source": SOURCE,
                "entity": name,
                "values": {"value": value},
            }
            yield build_record(topics.GENERIC, name, GenericTelemetry, message, source, line)
    for index, window in pending:
        yield _fault_record(name, index, window, shift, cluster)


def _parse_time(text: str) -> datetime:
    """Parse a NAB time stamp, with or without fractional seconds, as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"invalid time stamp {text!r}; expected {TIME_FORMAT.replace('%', '')}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _parse_row(text: str, source: str, line: int) -> tuple[datetime, float]:
    parts = text.rstrip("\r\n").split(",")
    if len(parts) != 2:
        raise ReplayParseError(source, line, f"expected 2 comma-separated columns (timestamp,value), found {len(parts)}")
    try:
        moment = _parse_time(parts[0])
    except ValueError as exc:
        raise ReplayParseError(source, line, str(exc)) from None
    try:
        value = float(parts[1])
    except ValueError:
        raise ReplayParseError(source, line, f"value is not a number: {parts[1].strip()!r}") from None
    if not math.isfinite(value):
        raise ReplayParseError(source, line, f"value is not a finite number: {parts[1].strip()!r}")
    return moment, value


def _fault_record(name: str, index: int, window: tuple[datetime, datetime], shift: TimeShift, cluster: str) -> Record:
    first, last = window
    fault_id = f"nab-{name}-{index}"
    truth = {
        "fault_id": fault_id,
        "kind": FAULT_KIND,
        "scope": "series",
        "entity": name,
        "start": shift.apply(first),
        "end": shift.apply(last),
        "cluster": cluster,
        "source": SOURCE,
    }
    return build_record(topics.FAULTS_TRUTH, fault_id, FaultTruth, truth, name, None)
