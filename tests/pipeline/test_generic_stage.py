"""GenericStage on hand-made streams: warm-up, a spike, a flat stream, several entities."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from detectors.anomaly import Anomaly
from pipeline.detection.engine import DetectionEngine
from pipeline.detection.generic_stage import GenericStage
from pipeline.schemas import SCHEMA_VERSION, GenericTelemetry

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def message(step: int, values: dict[str, float | None], entity: str = "machine-1-6", source: str = "smd") -> GenericTelemetry:
    return GenericTelemetry(
        schema_version=SCHEMA_VERSION, time=START + timedelta(minutes=step), source=source, entity=entity, values=values
    )


def noisy_stream(steps: int, seed: int = 0) -> list[dict[str, float | None]]:
    rng = np.random.default_rng(seed)
    return [{"cpu": float(0.5 + 0.02 * rng.standard_normal()), "memory": float(0.3 + 0.01 * rng.standard_normal())} for _ in range(steps)]


def run(stage: GenericStage, streams: list[dict[str, float | None]], entity: str = "machine-1-6") -> list[Anomaly]:
    anomalies: list[Anomaly] = []
    for step, values in enumerate(streams):
        anomalies += stage.process(message(step, values, entity))
    return anomalies


def test_warmup_reports_nothing() -> None:
    stream = noisy_stream(19)
    stream[10] = {"cpu": 50.0, "memory": 0.3}
    assert run(GenericStage(warmup=20), stream) == []


def test_spike_reports_one_anomaly() -> None:
    stream = noisy_stream(300)
    stream[200] = {"cpu": 0.5, "memory": 0.9}
    anomalies = run(GenericStage(), stream)
    assert len(anomalies) == 1
    anomaly = anomalies[0]
    assert anomaly.time == START + timedelta(minutes=200)
    assert anomaly.entity == "machine-1-6"
    assert anomaly.entity_kind == "series"
    assert anomaly.detector == "stats.ewma_z"
    assert anomaly.severity == "warning"
    assert anomaly.evidence["field"] == "memory"
    assert anomaly.evidence["value"] == pytest.approx(0.9)
    assert anomaly.score >= anomaly.threshold


def test_flat_stream_reports_nothing() -> None:
    assert run(GenericStage(), [{"value": 42.0}] * 500) == []


def test_noise_reports_nothing() -> None:
    assert run(GenericStage(), noisy_stream(2000, seed=3)) == []


def test_lasting_shift_reports_once() -> None:
    stream = noisy_stream(200) + [{"cpu": 5.0, "memory": 0.3}] * 20
    assert len(run(GenericStage(), stream)) == 1


def test_rearms_after_falling_below() -> None:
    stream = noisy_stream(400)
    stream[200] = {"cpu": 5.0, "memory": 0.3}
    stream[300] = {"cpu": 5.0, "memory": 0.3}
    times = [anomaly.time for anomaly in run(GenericStage(), stream)]
    assert times == [START + timedelta(minutes=200), START + timedelta(minutes=300)]


def test_persistence_needs_consecutive_messages() -> None:
    single = noisy_stream(300)
    single[200] = {"cpu": 5.0, "memory": 0.3}
    lasting = noisy_stream(300)
    for step in range(200, 205):
        lasting[step] = {"cpu": 5.0, "memory": 0.3}
    assert run(GenericStage(persistence=3), single) == []
    assert [anomaly.time for anomaly in run(GenericStage(persistence=3), lasting)] == [START + timedelta(minutes=202)]


def test_missing_value_is_skipped() -> None:
    stream = noisy_stream(300)
    stream[200] = {"cpu": None, "memory": 0.3}
    assert run(GenericStage(), stream) == []


def test_entities_keep_separate_state() -> None:
    stage = GenericStage()
    quiet = noisy_stream(300, seed=1)
    spiky = noisy_stream(300, seed=2)
    spiky[250] = {"cpu": 5.0, "memory": 0.3}
    anomalies: list[Anomaly] = []
    for step in range(300):
        anomalies += stage.process(message(step, quiet[step], entity="machine-1-7"))
        anomalies += stage.process(message(step, spiky[step], entity="machine-2-1"))
    assert [anomaly.entity for anomaly in anomalies] == ["machine-2-1"]


def test_new_value_names_restart_warmup() -> None:
    stream = noisy_stream(100) + [{"cpu": 5.0}] + [{"cpu": 0.5}] * 10
    assert run(GenericStage(), stream) == []


def test_persistence_below_one_raises() -> None:
    with pytest.raises(ValueError, match="persistence"):
        GenericStage(persistence=0)


def test_engine_runs_generic_stage() -> None:
    engine = DetectionEngine(rules=[])
    stream = noisy_stream(300)
    stream[200] = {"cpu": 5.0, "memory": 0.3}
    anomalies = engine.process([message(step, values, entity="realTraffic_speed_7578", source="nab") for step, values in enumerate(stream)])
    assert [anomaly.detector for anomaly in anomalies] == ["stats.ewma_z"]
    assert anomalies[0].entity == "realTraffic_speed_7578"
