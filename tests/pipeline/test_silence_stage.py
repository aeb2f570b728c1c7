"""Silence stage: a source whose telemetry stops while others of its type go on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.detection.silence_stage import SilenceStage
from pipeline.schemas import GpuTelemetry
from tests.detectors.messages import cooling_telemetry, xid_event
from tests.factories import gpu_message

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def gpu(node: str, seconds: float) -> GpuTelemetry:
    return GpuTelemetry.model_validate(gpu_message(time=(START + timedelta(seconds=seconds)).isoformat(), node=node))


def run(stage: SilenceStage, seconds: int, stop_at: int, resume_at: int | None = None) -> list:
    """Two nodes send every second; n1 stops at ``stop_at`` and may resume."""
    anomalies = []
    for second in range(seconds):
        stage.observe(gpu("r000-n00", second))
        if second < stop_at or (resume_at is not None and second >= resume_at):
            stage.observe(gpu("r000-n01", second))
        anomalies += stage.check()
    return anomalies


@pytest.mark.parametrize(("silent_for", "fires"), [(14, False), (15, True)], ids=["below", "at_limit"])
def test_silence_boundary(silent_for: int, fires: bool) -> None:
    # n1 last sends at second 9; the clock reaches 9 + silent_for.
    anomalies = run(SilenceStage(silence_seconds=15), 10 + silent_for, stop_at=10)

    assert bool(anomalies) is fires


def test_silent_node_reported_once_with_its_type() -> None:
    anomalies = run(SilenceStage(), 120, stop_at=10)

    assert [(anomaly.entity, anomaly.detector) for anomaly in anomalies] == [("r000-n01", "rule.silence")]
    assert anomalies[0].evidence["message_type"] == "GpuTelemetry"


def test_resumed_source_rearms() -> None:
    stage = SilenceStage()

    first = run(stage, 60, stop_at=10, resume_at=50)
    second = []
    for moment in range(60, 120):
        stage.observe(gpu("r000-n00", moment))
        second += stage.check()

    assert len(first) == 1
    assert [anomaly.entity for anomaly in second] == ["r000-n01"]


def test_clock_is_per_message_type() -> None:
    # Cooling messages lag far behind GPU messages: no CDU counts as silent.
    stage = SilenceStage()
    anomalies = []
    for second in range(100):
        stage.observe(gpu("r000-n00", second + 60))
        stage.observe(cooling_telemetry(second))
        anomalies += stage.check()

    assert anomalies == []


def test_events_not_watched() -> None:
    # Hardware events are sporadic: a node with one event and none after is not silent.
    stage = SilenceStage()
    stage.observe(xid_event(13, seconds=0))
    anomalies = []
    for second in range(100):
        stage.observe(gpu("r000-n01", second))
        anomalies += stage.check()

    assert anomalies == []


def test_worker_clock_holds_silence_back() -> None:
    # n1's partition is read only up to second 9 while n0's runs on to 100.
    stage = SilenceStage()
    anomalies = []
    for second in range(100):
        stage.observe(gpu("r000-n00", second))
        if second < 10:
            stage.observe(gpu("r000-n01", second))
        anomalies += stage.check(clock=START + timedelta(seconds=min(second, 9)))

    assert anomalies == []
