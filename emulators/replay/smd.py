"""Server Machine Dataset (SMD): one machine's 38 metrics per minute as generic telemetry.

SMD (Su et al., KDD 2019) ships, per machine, ``train/<machine>.txt`` and
``test/<machine>.txt`` with one comma-separated row of 38 min-max scaled values per
minute, and ``test_label/<machine>.txt`` with a 0/1 label per test row. The files have
no header and no timestamps, so row ``i`` is given the event time ``start + i`` minutes.

The official release does not name the 38 metrics, so they are published as
``metric_00`` to ``metric_37`` in column order. ``metric_00`` is dimension 1 of the
data set's interpretation labels. Each contiguous run of labelled test rows becomes one
:class:`~pipeline.schemas.FaultTruth` record, published just before the run's first row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal

from emulators.cluster import Record
from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.messages import build_record
from emulators.replay.timing import DEFAULT_START
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION, FaultTruth, GenericTelemetry

logger = logging.getLogger(__name__)

METRIC_COUNT: Final = 38
METRIC_NAMES: Final = tuple(f"metric_{index:02d}" for index in range(METRIC_COUNT))
ROW_INTERVAL: Final = timedelta(minutes=1)
SOURCE: Final = "smd"
FAULT_KIND: Final = "smd_anomaly"

Split = Literal["test", "train", "all"]
SPLITS: Final[tuple[Split, ...]] = ("test", "train", "all")


def dataset_root(path: Path) -> Path:
    """Return the folder that contains ``train/``, ``test/`` and ``test_label/``.

    ``path`` may be that folder or its parent, which contains ``ServerMachineDataset``.
    """
    nested = path / "ServerMachineDataset"
    return nested if nested.is_dir() else path


def machines_with_values(path: Path) -> list[str]:
    """Return the machines whose test values are present, sorted by name."""
    test_dir = dataset_root(path) / "test"
    return sorted(item.stem for item in test_dir.glob("machine-*.txt"))


def label_runs(path: Path) -> tuple[list[tuple[int, int]], int]:
    """Read a test_label file and return its labelled runs and its row count.

    Each run is ``(first_row, end_row)`` with 0-based rows and ``end_row`` exclusive,
    the notation of SMD's interpretation labels.

    Raises:
        ReplayParseError: a line is not 0 or 1.
    """
    runs: list[tuple[int, int]] = []
    run_start: int | None = None
    rows = 0
    with path.open(encoding="ascii", errors="replace") as lines:
        for row, text in enumerate(lines):
            label = text.strip()
            if label not in ("0", "1"):
                raise ReplayParseError(str(path), row + 1, f"invalid label {label!r}; expected 0 or 1")
            if label == "1" and run_start is None:
                run_start = row
            elif label == "0" and run_start is not None:
                runs.append((run_start, row))
                run_start = None
            rows = row + 1
    if run_start is not None:
        runs.append((run_start, rows))
    return runs, rows


def parse_row(text: str, source: str, line: int) -> list[float]:
    """Parse one SMD row of 38 comma-separated finite numbers.

    Raises:
        ReplayParseError: wrong column count, or a column that is not a finite number.
    """
    columns = text.rstrip("\r\n").split(",")
    if len(columns) != METRIC_COUNT:
        raise ReplayParseError(source, line, f"expected {METRIC_COUNT} comma-separated values, found {len(columns)}")
    values = []
    for index, column in enumerate(columns):
        try:
            value = float(column)
        except ValueError:
            raise ReplayParseError(source, line, f"column {index + 1} is not a number: {column.strip()!r}") from None
        if not math.isfinite(value):
            raise ReplayParseError(source, line, f"column {index + 1} is not a finite number: {column.strip()!r}")
        values.append(value)
    return values


def smd_records(
    path: Path,
    machine: str,
    *,
    split: Split = "test",
    start: datetime = DEFAULT_START,
    cluster: str = "default",
    labels: bool = True,
) -> Iterator[Record]:
    """Return one machine's rows as generic telemetry and its labelled runs as fault truth.

    Inputs are checked and labels read at the call; rows are read lazily, one line at a
    time, as the iterator is consumed. Split ``all`` replays the train rows and
    then the test rows on one continuous clock; only test rows carry labels.

    Raises:
        ReplayInputError: the split is unknown or the machine has no values here.
        ReplayParseError: a row or label is malformed, or the label and value files
            differ in length.
    """
    if split not in SPLITS:
        raise ReplayInputError(f"unknown SMD split {split!r}; expected one of {', '.join(SPLITS)}")
    root = dataset_root(path)
    test_path = root / "test" / f"{machine}.txt"
    if not test_path.is_file():
        available = ", ".join(machines_with_values(path)) or "none"
        raise ReplayInputError(f"SMD machine {machine!r} has no values in {root / 'test'}; machines with values: {available}")
    train_path = root / "train" / f"{machine}.txt"
    if split != "test" and not train_path.is_file():
        raise ReplayInputError(f"SMD machine {machine!r} has no train values at {train_path}")

    runs: list[tuple[int, int]] = []
    label_rows: int | None = None
    if labels and split != "train":
        label_path = root / "test_label" / f"{machine}.txt"
        if not label_path.is_file():
            raise ReplayInputError(f"SMD machine {machine!r} has no labels at {label_path}; pass --no-labels to replay without them")
        runs, label_rows = label_runs(label_path)
    return _machine_records(machine, split, train_path, test_path, runs, label_rows, start, cluster)


def _machine_records(
    machine: str,
    split: Split,
    train_path: Path,
    test_path: Path,
    runs: list[tuple[int, int]],
    label_rows: int | None,
    start: datetime,
    cluster: str,
) -> Iterator[Record]:
    row_offset = 0
    if split in ("train", "all"):
        for record in _value_records(train_path, machine, start, 0, cluster):
            yield record
            row_offset += 1
    if split == "train":
        return

    runs_by_row = {first: end for first, end in runs}
    rows = 0
    for rows, record in enumerate(_value_records(test_path, machine, start, row_offset, cluster), start=1):
        row = rows - 1
        if label_rows is not None and row >= label_rows:
            raise ReplayParseError(str(test_path), rows, f"row has no label: the label file has only {label_rows} lines")
        if row in runs_by_row:
            yield _fault_record(machine, row, runs_by_row[row], start, row_offset, cluster)
        yield record
    if label_rows is not None and rows < label_rows:
        raise ReplayParseError(str(test_path), rows + 1, f"values end after {rows} rows but the label file has {label_rows} lines")


def _value_records(path: Path, machine: str, start: datetime, row_offset: int, cluster: str) -> Iterator[Record]:
    source = str(path)
    with path.open(encoding="ascii", errors="replace") as lines:
        for row, text in enumerate(lines):
            values = parse_row(text, source, row + 1)
            message = {
                "schema_version": SCHEMA_VERSION,
                "time": start + (row_offset + row) * ROW_INTERVAL,
                "cluster": cluster,
                "source": SOURCE,
                "entity": machine,
                "values": dict(zip(METRIC_NAMES, values, strict=True)),
            }
            yield build_record(topics.GENERIC, machine, GenericTelemetry, message, source, row + 1)


def _fault_record(machine: str, first_row: int, end_row: int, start: datetime, row_offset: int, cluster: str) -> Record:
    fault_id = f"smd-{machine}-{first_row}-{end_row}"
    truth = {
        "fault_id": fault_id,
        "kind": FAULT_KIND,
        "scope": "series",
        "entity": machine,
        "start": start + (row_offset + first_row) * ROW_INTERVAL,
        "end": start + (row_offset + end_row) * ROW_INTERVAL,
        "cluster": cluster,
        "source": SOURCE,
    }
    return build_record(topics.FAULTS_TRUTH, fault_id, FaultTruth, truth, machine, None)
