"""Report data for the tests: hand-made for the render tests, seeded into InfluxDB for the rest."""

from __future__ import annotations

import math
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.report.models import (
    ActionRow,
    AnomalyRow,
    EventRow,
    IncidentChange,
    IncidentSummary,
    ReportData,
    Series,
    Signal,
)
from pipeline.settings import InfluxDBSettings
from pipeline.sinks import influxql
from tests.report.seed import gpu_incident_points, rack_incident_points, telemetry_points, write_points

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
HOSTILE = "<script>alert('x')</script> & \"quoted\""


def gpu_temperature_signal(gpus: int = 4, minutes: int = 30) -> Signal:
    """Return a GPU temperature plot: 10 s rollups, GPU 0 heating up from minute 12."""
    times = tuple(START - timedelta(minutes=10) + timedelta(seconds=10 * i) for i in range(minutes * 6))
    series = []
    for gpu in range(gpus):
        values = []
        for index, _ in enumerate(times):
            heat = max(index - 72, 0) * 0.4 if gpu == 0 else 0.0
            values.append(62.0 + gpu + 1.5 * math.sin(index / 7 + gpu) + min(heat, 25.0))
        series.append(Series(
            label=f"GPU {gpu}",
            times=times,
            values=tuple(values),
            lows=tuple(value - 1.0 for value in values),
            highs=tuple(value + 1.0 for value in values),
        ))
    return Signal("gpu", "DCGM_FI_DEV_GPU_TEMP", "GPU temperature", "°C", "10s", tuple(series))


def make_report_data() -> ReportData:
    """Return the data of a resolved GPU incident with markup in its text fields."""
    incident = IncidentSummary(
        incident_id="inc-0123456789abcdef",
        cluster="test",
        scope="gpu",
        fault_class="thermal_runaway",
        entity="r000-n01",
        severity="critical",
        status="resolved",
        confidence="high",
        started_at=START + timedelta(minutes=2),
        last_update_at=START + timedelta(minutes=14),
        ended_at=START + timedelta(minutes=14),
        rack="r000",
        node="r000-n01",
        gpu="0",
        jobs=("job-a",),
        summary=f"GPU temperature 92 C {HOSTILE}",
        resolution="cleared",
        anomaly_count=3,
        max_score=92.0,
        changes=(
            IncidentChange(START + timedelta(minutes=2), "opened", "firing", "warning", 1, 85.0),
            IncidentChange(START + timedelta(minutes=14), "resolved", "resolved", "critical", 3, 92.0),
        ),
    )
    anomalies = tuple(
        AnomalyRow(START + timedelta(minutes=2 + i), "rule.gpu_temp", "critical", 85.0 + i, f"hot {HOSTILE}",
                   node="r000-n01", gpu="0", signal="DCGM_FI_DEV_GPU_TEMP", threshold=83.0)
        for i in range(3)
    )
    actions = (
        ActionRow("act-1", START + timedelta(minutes=3), "cap_power", "r000-n01", "ok", reason=f"hot GPU {HOSTILE}",
                  detail="capped at 500 W", completed_at=START + timedelta(minutes=3, seconds=4), duration_seconds=4.0),
        ActionRow("act-2", START + timedelta(minutes=5), "swap_spare", "r000-n01", "failed", reason="still hot",
                  detail="no spare left", completed_at=START + timedelta(minutes=5, seconds=2), duration_seconds=2.0),
    )
    events = (EventRow(START + timedelta(minutes=4), "xid", "critical", f"Xid 79 {HOSTILE}", node="r000-n01", gpu="0", code=79),)
    return ReportData(
        incident=incident,
        database="qianliyan",
        window_start=START - timedelta(minutes=8),
        window_end=START + timedelta(minutes=24),
        anomalies=anomalies,
        actions=actions,
        events=events,
        signals=(gpu_temperature_signal(),),
    )


@pytest.fixture
def report_data() -> ReportData:
    """Return the hand-made data of a resolved GPU incident."""
    return make_report_data()


INFLUXDB_URL = f"http://127.0.0.1:{os.environ.get('QIANLIYAN_INFLUXDB_PORT', '8086')}"


def _influxdb_up() -> bool:
    try:
        with urllib.request.urlopen(f"{INFLUXDB_URL}/ping", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def seeded_influxdb() -> Iterator[InfluxDBSettings]:
    """Yield settings of a fresh InfluxDB database holding the seeded GPU and rack incidents.

    Skips when InfluxDB is down, unless QIANLIYAN_REQUIRE_SERVICES=1, which makes it fail.
    """
    if not _influxdb_up():
        reason = f"InfluxDB is not answering at {INFLUXDB_URL}/ping"
        if os.environ.get("QIANLIYAN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}, and QIANLIYAN_REQUIRE_SERVICES=1 forbids skipping; run 'scripts/services.sh up'")
        pytest.skip(f"{reason}; run 'scripts/services.sh up' to start it")

    database = f"test_report_{uuid.uuid4().hex[:10]}"
    settings = InfluxDBSettings(url=INFLUXDB_URL, bucket=database)
    influxql.query(settings, f'CREATE DATABASE "{database}"', method="POST")
    try:
        write_points(settings, telemetry_points() + gpu_incident_points() + rack_incident_points())
        yield settings
    finally:
        influxql.query(settings, f'DROP DATABASE "{database}"', method="POST")
