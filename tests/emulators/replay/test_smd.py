import re
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import pytest

from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.smd import METRIC_COUNT, label_runs, machines_with_values, smd_records
from pipeline import topics
from tests.emulators.replay.datasets import SMD_DIR, decode_records

START = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Test rows from the data set's own notes; labelled runs counted from test_label.
MACHINES = [
    ("machine-1-6", 23689, 30),
    ("machine-1-7", 23697, 13),
    ("machine-2-1", 23694, 13),
    ("machine-2-2", 23700, 11),
    ("machine-2-7", 23696, 20),
    ("machine-2-8", 23703, 1),
    ("machine-3-3", 23703, 26),
    ("machine-3-4", 23687, 8),
]


@pytest.mark.parametrize(("machine", "rows", "runs"), MACHINES, ids=[item[0] for item in MACHINES])
def test_smd_machine_counts(machine: str, rows: int, runs: int) -> None:
    counts = decode_records(smd_records(SMD_DIR, machine))

    assert counts[topics.GENERIC] == rows
    assert counts[topics.FAULTS_TRUTH] == runs


def test_smd_lists_machines_with_values() -> None:
    assert machines_with_values(SMD_DIR) == [item[0] for item in MACHINES]


def test_smd_first_row() -> None:
    record = next(smd_records(SMD_DIR, "machine-1-6", start=START))

    assert record.topic == topics.GENERIC
    assert record.key == "machine-1-6"
    assert record.value["time"] == "2026-01-01T00:00:00Z"
    assert record.value["source"] == "smd"
    assert record.value["entity"] == "machine-1-6"
    assert len(record.value["values"]) == METRIC_COUNT
    assert record.value["values"]["metric_00"] == pytest.approx(0.185185)
    assert record.value["values"]["metric_37"] == 0


def test_smd_fault_precedes_its_run() -> None:
    records = list(islice(smd_records(SMD_DIR, "machine-1-6", start=START), 260))
    position = next(index for index, record in enumerate(records) if record.topic == topics.FAULTS_TRUTH)
    truth = records[position].value

    assert position == 246
    assert records[position + 1].value["time"] == "2026-01-01T04:06:00Z"
    assert truth["fault_id"] == "smd-machine-1-6-246-252"
    assert truth["kind"] == "smd_anomaly"
    assert truth["scope"] == "series"
    assert truth["entity"] == "machine-1-6"
    assert truth["start"] == "2026-01-01T04:06:00Z"
    assert truth["end"] == "2026-01-01T04:12:00Z"


def test_smd_split_all_continues_clock() -> None:
    records = list(smd_records(SMD_DIR, "machine-2-8", split="all", start=START))
    telemetry = [record for record in records if record.topic == topics.GENERIC]
    truth = [record for record in records if record.topic == topics.FAULTS_TRUTH]

    assert len(telemetry) == 23702 + 23703
    assert telemetry[23702].value["time"] == "2026-01-17T11:02:00Z"
    assert len(truth) == 1
    assert truth[0].value["start"] >= "2026-01-17T11:02:00Z"


def test_smd_split_train_has_no_labels() -> None:
    topics_seen = {record.topic for record in islice(smd_records(SMD_DIR, "machine-1-6", split="train"), 5000)}

    assert topics_seen == {topics.GENERIC}


def test_smd_no_labels() -> None:
    topics_seen = {record.topic for record in islice(smd_records(SMD_DIR, "machine-1-6", labels=False), 300)}

    assert topics_seen == {topics.GENERIC}


def test_smd_machine_without_values() -> None:
    with pytest.raises(ReplayInputError, match=r"'machine-1-1' has no values.*machine-1-6"):
        next(smd_records(SMD_DIR, "machine-1-1"))


def test_smd_unknown_split() -> None:
    with pytest.raises(ReplayInputError, match="unknown SMD split 'validation'"):
        next(smd_records(SMD_DIR, "machine-1-6", split="validation"))  # type: ignore[arg-type]


def make_machine(root: Path, rows: list[str], labels: list[str], machine: str = "machine-9-9") -> Path:
    for folder in ("test", "test_label"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "test" / f"{machine}.txt").write_text("".join(f"{row}\n" for row in rows))
    (root / "test_label" / f"{machine}.txt").write_text("".join(f"{label}\n" for label in labels))
    return root


GOOD_ROW = ",".join(["0.5"] * METRIC_COUNT)

MALFORMED = [
    ("short row", [GOOD_ROW, ",".join(["0.5"] * 37)], ["0", "0"], "test/machine-9-9.txt:2: expected 38 comma-separated values, found 37"),
    ("word", [GOOD_ROW, GOOD_ROW, GOOD_ROW.replace("0.5", "high", 1)], ["0"] * 3, "test/machine-9-9.txt:3: column 1 is not a number: 'high'"),
    ("nan", [GOOD_ROW.replace("0.5", "nan", 1)], ["0"], "test/machine-9-9.txt:1: column 1 is not a finite number"),
    ("bad label", [GOOD_ROW] * 2, ["0", "2"], "test_label/machine-9-9.txt:2: invalid label '2'; expected 0 or 1"),
    ("labels short", [GOOD_ROW] * 3, ["0", "1"], "test/machine-9-9.txt:3: row has no label: the label file has only 2 lines"),
    ("values short", [GOOD_ROW] * 2, ["0"] * 4, "test/machine-9-9.txt:3: values end after 2 rows but the label file has 4 lines"),
]


@pytest.mark.parametrize(("rows", "labels", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_smd_malformed_names_line(tmp_path: Path, rows: list[str], labels: list[str], message: str) -> None:
    root = make_machine(tmp_path, rows, labels)

    with pytest.raises(ReplayParseError, match=re.escape(message)):
        list(smd_records(root, "machine-9-9"))


def test_smd_streams_before_bad_row(tmp_path: Path) -> None:
    root = make_machine(tmp_path, [GOOD_ROW] * 3 + ["bad"], ["0"] * 4)
    records = smd_records(root, "machine-9-9")

    first = [next(records) for _ in range(3)]

    assert len(first) == 3
    with pytest.raises(ReplayParseError, match=":4: expected 38"):
        next(records)


def test_label_runs_closed_at_end(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("0\n1\n1\n0\n1\n")

    runs, rows = label_runs(path)

    assert runs == [(1, 3), (4, 5)]
    assert rows == 5
