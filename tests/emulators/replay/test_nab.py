import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.nab import list_series, nab_records, read_windows
from pipeline import topics
from tests.emulators.replay.datasets import NAB_DIR, decode_records

START = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Rows are the CSV line count less the header; windows are from combined_windows.json.
SERIES = [
    ("realKnownCause/machine_temperature_system_failure", 22695, 4),
    ("realKnownCause/nyc_taxi", 10320, 5),
    ("realKnownCause/ambient_temperature_system_failure", 7267, 2),
    ("realKnownCause/cpu_utilization_asg_misconfiguration", 18050, 1),
    ("realAWSCloudwatch/ec2_cpu_utilization_5f5533", 4032, 2),
    ("realTweets/Twitter_volume_AAPL", 15902, 4),
    ("artificialNoAnomaly/art_daily_no_noise", 4032, 0),
    ("artificialWithAnomaly/art_daily_jumpsup", 4032, 1),
]


@pytest.mark.parametrize(("series", "rows", "windows"), SERIES, ids=[item[0] for item in SERIES])
def test_nab_series_counts(series: str, rows: int, windows: int) -> None:
    counts = decode_records(nab_records(NAB_DIR, series))

    assert counts[topics.GENERIC] == rows
    assert counts[topics.FAULTS_TRUTH] == windows


def test_nab_lists_58_series() -> None:
    assert len(list_series(NAB_DIR)) == 58


def test_nab_keeps_timestamps() -> None:
    record = next(nab_records(NAB_DIR, "realKnownCause/machine_temperature_system_failure.csv"))

    assert record.key == "realKnownCause/machine_temperature_system_failure"
    assert record.value["time"] == "2013-12-02T21:15:00Z"
    assert record.value["source"] == "nab"
    assert record.value["entity"] == "realKnownCause/machine_temperature_system_failure"
    assert record.value["values"] == {"value": pytest.approx(73.96732207)}


def test_nab_start_shifts_rows_and_windows() -> None:
    records = list(nab_records(NAB_DIR, "realKnownCause/machine_temperature_system_failure", start=START))
    telemetry = [record for record in records if record.topic == topics.GENERIC]
    truth = [record.value for record in records if record.topic == topics.FAULTS_TRUTH]

    assert telemetry[0].value["time"] == "2026-01-01T00:00:00Z"
    assert telemetry[1].value["time"] == "2026-01-01T00:05:00Z"
    assert truth[0]["fault_id"] == "nab-realKnownCause/machine_temperature_system_failure-0"
    assert truth[0]["kind"] == "nab_anomaly_window"
    assert truth[0]["start"] == "2026-01-08T09:10:00Z"
    assert truth[0]["end"] == "2026-01-10T08:20:00Z"


def test_nab_window_precedes_its_rows() -> None:
    records = list(nab_records(NAB_DIR, "realKnownCause/nyc_taxi"))

    for position, record in enumerate(records):
        if record.topic == topics.FAULTS_TRUTH:
            following = records[position + 1]
            assert following.topic == topics.GENERIC
            assert following.value["time"] >= record.value["start"]


def test_nab_all_windows_published() -> None:
    document = json.loads((NAB_DIR / "labels" / "combined_windows.json").read_text())
    expected = sum(len(windows) for windows in document.values())

    published = sum(len(read_windows(NAB_DIR, series)) for series in list_series(NAB_DIR))

    assert published == expected


def test_nab_no_labels() -> None:
    counts = decode_records(nab_records(NAB_DIR, "realKnownCause/nyc_taxi", labels=False))

    assert counts[topics.FAULTS_TRUTH] == 0


def test_nab_unknown_series() -> None:
    with pytest.raises(ReplayInputError, match="NAB series 'realKnownCause/no_such' not found"):
        next(nab_records(NAB_DIR, "realKnownCause/no_such"))


def make_series(root: Path, lines: list[str], windows: object = None) -> Path:
    (root / "data" / "test").mkdir(parents=True)
    (root / "data" / "test" / "series.csv").write_text("".join(f"{line}\n" for line in lines))
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps({"test/series.csv": windows if windows is not None else []}))
    return root


MALFORMED = [
    ("header", ["time,value", "2020-01-01 00:00:00,1"], "series.csv:1: invalid header 'time,value'"),
    ("time stamp", ["timestamp,value", "2020-01-01 00:00:00,1", "yesterday,2"], "series.csv:3: invalid time stamp 'yesterday'"),
    ("value", ["timestamp,value", "2020-01-01 00:00:00,abc"], "series.csv:2: value is not a number: 'abc'"),
    ("columns", ["timestamp,value", "2020-01-01 00:00:00,1,2"], "series.csv:2: expected 2 comma-separated columns"),
    ("infinite", ["timestamp,value", "2020-01-01 00:00:00,inf"], "series.csv:2: value is not a finite number"),
]


@pytest.mark.parametrize(("lines", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_nab_malformed_names_line(tmp_path: Path, lines: list[str], message: str) -> None:
    root = make_series(tmp_path, lines)

    with pytest.raises(ReplayParseError, match=message):
        list(nab_records(root, "test/series"))


def test_nab_malformed_window(tmp_path: Path) -> None:
    root = make_series(tmp_path, ["timestamp,value", "2020-01-01 00:00:00,1"], windows=[["2020-01-01 00:00:00"]])

    with pytest.raises(ReplayParseError, match=r"window 0 of 'test/series.csv' is \['2020-01-01 00:00:00'\]"):
        list(nab_records(root, "test/series"))
