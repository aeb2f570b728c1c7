from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from detectors.multivariate import IsolationForestDetector, PcaReconstructionDetector, TrainedModel, save_model, train
from pipeline.detection.engine import DetectionEngine
from pipeline.detection.model_stage import InvalidModelError, ModelStage, detector_name, load_gpu_model
from pipeline.schemas import GpuTelemetry
from pipeline.settings import Settings
from tests.factories import gpu_message

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
FEATURES = ("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE")


def tiny_model() -> TrainedModel:
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.normal(60.0, 1.0, 2_000), rng.normal(640.0, 10.0, 2_000)])
    return train(rows, FEATURES, detector=IsolationForestDetector(n_estimators=20), threshold_quantile=0.95)


def gpu_sample(node: str, seconds: float, temperatures: list[float]) -> GpuTelemetry:
    gpus = [{"gpu": gpu, "DCGM_FI_DEV_GPU_TEMP": temp, "DCGM_FI_DEV_POWER_USAGE": 640.0} for gpu, temp in enumerate(temperatures)]
    return GpuTelemetry.model_validate(gpu_message(time=(START + timedelta(seconds=seconds)).isoformat(), node=node, gpus=gpus))


def count_calls(model: TrainedModel, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of rows of every call into the model's detector."""
    calls: list[int] = []
    original = model.detector.score_samples

    def counting(X: np.ndarray) -> np.ndarray:
        calls.append(len(X))
        return original(X)

    monkeypatch.setattr(model.detector, "score_samples", counting)
    return calls


def test_one_model_call_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    calls = count_calls(model, monkeypatch)
    engine = DetectionEngine(rules=[], model_stage=ModelStage(model))

    for second in range(3):
        engine.process([gpu_sample(f"r000-n0{node}", second, [60.0, 60.5, 59.5, 61.0]) for node in range(5)])

    assert calls == [20, 20, 20]


def test_no_gpu_rows_no_model_call(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    calls = count_calls(model, monkeypatch)

    assert ModelStage(model).process([]) == []
    assert calls == []


def test_hot_gpu_reported_after_persistence() -> None:
    stage = ModelStage(tiny_model(), persistence=3)
    anomalies = []

    for second in range(10):
        hot = 95.0 if second >= 5 else 60.0
        anomalies += stage.process([gpu_sample("r000-n01", second, [60.0, hot, 60.2])])

    assert len(anomalies) == 1
    anomaly = anomalies[0]
    assert anomaly.entity == "r000-n01"
    assert anomaly.entity_kind == "gpu"
    assert anomaly.gpu == 1
    assert anomaly.detector == "model.isolation_forest"
    assert anomaly.time == START + timedelta(seconds=7)
    assert anomaly.threshold == pytest.approx(stage.model.threshold)
    assert anomaly.evidence["DCGM_FI_DEV_GPU_TEMP"] == 95.0


def test_persistence_counts_rows_in_time_order() -> None:
    stage = ModelStage(tiny_model(), persistence=3)

    # Three hot samples of one GPU in one call, handed over newest first.
    batch = [gpu_sample("r000-n01", second, [95.0]) for second in (2, 1, 0)]
    anomalies = stage.process(batch)

    assert [anomaly.time for anomaly in anomalies] == [START + timedelta(seconds=2)]


def test_short_spike_ignored() -> None:
    stage = ModelStage(tiny_model(), persistence=3)
    anomalies = []

    for second in range(10):
        hot = 95.0 if second in (3, 4) else 60.0
        anomalies += stage.process([gpu_sample("r000-n01", second, [hot])])

    assert anomalies == []


def test_missing_model_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="model file not found"):
        ModelStage.from_file(tmp_path / "absent.joblib")


def test_non_gpu_features_rejected(tmp_path: Path) -> None:
    model = train(np.random.default_rng(0).normal(size=(200, 2)), ["cpu", "memory"], detector=IsolationForestDetector(n_estimators=5))
    path = save_model(model, tmp_path / "smd.joblib")

    with pytest.raises(InvalidModelError, match="not GPU fields"):
        load_gpu_model(path)


def test_model_file_loaded(tmp_path: Path) -> None:
    path = save_model(tiny_model(), tmp_path / "gpu.joblib")

    stage = ModelStage.from_file(path)

    assert stage.model.feature_names == FEATURES
    assert stage.name == "model.isolation_forest"


def test_detector_name_pca() -> None:
    rows = np.random.default_rng(0).normal(size=(200, 2))
    model = train(rows, FEATURES, detector=PcaReconstructionDetector(n_components=1))

    assert detector_name(model) == "model.pca"


def test_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANLIYAN_DETECTION_MODEL_PATH", "/models/gpu.joblib")

    assert Settings(_env_file=None).detection_model_path == Path("/models/gpu.joblib")
    monkeypatch.delenv("QIANLIYAN_DETECTION_MODEL_PATH")
    assert Settings(_env_file=None).detection_model_path is None
