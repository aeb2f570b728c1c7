"""Hand-made report data for the render tests, which need no services."""

from __future__ import annotations

import math
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
