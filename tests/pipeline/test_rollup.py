from datetime import datetime, timedelta, timezone

import pytest

from pipeline.sinks.points import PointData
from pipeline.sinks.rollup import RollupWindows

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def point(seconds: float, temp: float, dbe: int, node: str = "n0") -> PointData:
    fields = {"DCGM_FI_DEV_GPU_TEMP": temp, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": dbe, "link_state": "up"}
    return PointData("gpu", {"node": node, "gpu": "0"}, fields, START + timedelta(seconds=seconds))


def add(windows: RollupWindows, seconds: float, temp: float, dbe: int = 0, node: str = "n0") -> None:
    windows.add([point(seconds, temp, dbe, node)], START + timedelta(seconds=seconds), hold=(node, seconds))


def test_window_aggregates_min_mean_max() -> None:
    windows = RollupWindows(window_seconds=10, lateness_seconds=2)
    for second, temp in enumerate([60.0, 62.0, 64.0]):
        add(windows, second, temp, dbe=second)

    closed = windows.close_all()

    assert len(closed.points) == 1
    rollup = closed.points[0]
    assert rollup.time == START
    assert rollup.tags == {"node": "n0", "gpu": "0", "resolution": "10s"}
    assert rollup.fields["DCGM_FI_DEV_GPU_TEMP"] == pytest.approx(62.0)
    assert rollup.fields["DCGM_FI_DEV_GPU_TEMP_min"] == 60.0
    assert rollup.fields["DCGM_FI_DEV_GPU_TEMP_max"] == 64.0
    assert rollup.fields["samples"] == 3
    assert closed.holds == [("n0", 0), ("n0", 1), ("n0", 2)]


def test_integer_fields_keep_last_value() -> None:
    windows = RollupWindows()
    add(windows, 0, 60.0, dbe=1)
    add(windows, 1, 60.0, dbe=3)

    fields = windows.close_all().points[0].fields

    assert fields["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"] == 3
    assert isinstance(fields["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"], int)
    assert fields["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL_min"] == 1
    assert fields["link_state"] == "up"


def test_window_closes_after_lateness() -> None:
    windows = RollupWindows(window_seconds=10, lateness_seconds=2)
    add(windows, 9, 60.0)
    add(windows, 11, 60.0)

    assert windows.close_ready().points == []

    add(windows, 12, 60.0)
    closed = windows.close_ready()
    assert [rollup.time for rollup in closed.points] == [START]
    assert windows.open_windows == 1


def test_late_point_rejected_after_close() -> None:
    windows = RollupWindows(window_seconds=10, lateness_seconds=0)
    add(windows, 1, 60.0)
    add(windows, 10, 60.0)
    windows.close_ready()

    assert windows.is_late(START + timedelta(seconds=5))
    assert not windows.is_late(START + timedelta(seconds=15))
    with pytest.raises(ValueError, match="already closed"):
        add(windows, 5, 60.0)


def test_series_kept_apart() -> None:
    windows = RollupWindows()
    add(windows, 0, 60.0, node="n0")
    add(windows, 0, 70.0, node="n1")

    means = {rollup.tags["node"]: rollup.fields["DCGM_FI_DEV_GPU_TEMP"] for rollup in windows.close_all().points}

    assert means == {"n0": 60.0, "n1": 70.0}


def test_window_size_validated() -> None:
    with pytest.raises(ValueError, match="window_seconds must be at least 1"):
        RollupWindows(window_seconds=0)


def test_watermark_waits_for_slowest_source() -> None:
    windows = RollupWindows(window_seconds=10, lateness_seconds=0)
    windows.add([point(1, 60.0, 0)], START + timedelta(seconds=1), source="partition-0")
    windows.add([point(1, 60.0, 0, node="n1")], START + timedelta(seconds=1), source="partition-1")
    windows.add([point(30, 60.0, 0)], START + timedelta(seconds=30), source="partition-0")

    assert windows.close_ready().points == []
    assert not windows.is_late(START + timedelta(seconds=5))

    windows.add([point(12, 60.0, 0, node="n1")], START + timedelta(seconds=12), source="partition-1")
    closed = windows.close_ready()
    assert {rollup.tags["node"] for rollup in closed.points} == {"n0", "n1"}
