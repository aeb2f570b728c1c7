"""Tests of the batch adapter, the trained-model file, and each detector's stated learning choice."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detectors.anomaly import Anomaly
from detectors.base import BatchDetector, max_over_features
from detectors.job import HangDetector, StragglerDetector
from detectors.multivariate import IsolationForestDetector, PcaReconstructionDetector, load_model, save_model, train
from detectors.peers import PeerDeviation
from detectors.stats import Cusum, EwmaZScore, RobustZScore
from tests.detectors.messages import START


def healthy_rows(rows: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (rows, 4))


def test_batch_adapter_negates_score_samples() -> None:
    data = healthy_rows()
    forest = IsolationForest(n_estimators=20, random_state=0)

    adapted = BatchDetector(forest).fit(data).score_samples(data[:10])
    direct = IsolationForest(n_estimators=20, random_state=0).fit(data).score_samples(data[:10])

    np.testing.assert_allclose(adapted, -direct)


def test_batch_adapter_rejects_non_outlier_estimator() -> None:
    from sklearn.linear_model import LinearRegression

    with pytest.raises(TypeError, match="no score_samples"):
        BatchDetector(LinearRegression()).fit(healthy_rows())


def test_batch_feature_count_checked() -> None:
    detector = IsolationForestDetector(n_estimators=10).fit(healthy_rows())

    with pytest.raises(ValueError, match="fitted with 4"):
        detector.score_samples(np.zeros((2, 3)))


def test_pca_scores_broken_correlation_higher() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, (500, 1))
    data = np.hstack([base, 2 * base, -base]) + rng.normal(0, 0.05, (500, 3))
    detector = PcaReconstructionDetector(n_components=1).fit(data)

    scores = detector.score_samples(np.array([[1.0, 2.0, -1.0], [1.0, -2.0, -1.0]]))

    assert scores[1] > 10 * scores[0]


def test_train_save_load_round_trip(tmp_path: Path) -> None:
    data = healthy_rows()
    data[3, 1] = np.nan
    model = train(data, ["a", "b", "c", "d"], detector=IsolationForestDetector(n_estimators=20), model_version="v1")

    path = save_model(model, tmp_path / "model.joblib")
    loaded = load_model(path, feature_names=["a", "b", "c", "d"])

    assert loaded.model_version == "v1"
    assert loaded.feature_names == ("a", "b", "c", "d")
    assert loaded.n_samples == 400
    np.testing.assert_allclose(loaded.score_many(data[:5]), model.score_many(data[:5]))


def test_train_threshold_is_training_quantile() -> None:
    data = healthy_rows()
    model = train(data, ["a", "b", "c", "d"], threshold_quantile=0.9)

    share_above = np.mean(model.score_many(data) >= model.threshold)

    assert share_above == pytest.approx(0.1, abs=0.01)


def test_model_matrix_fills_missing_with_median() -> None:
    data = healthy_rows()
    model = train(data, ["a", "b", "c", "d"])

    matrix = model.matrix([{"a": 5.0, "unknown": 1.0}, {"b": None}])

    assert matrix[0, 0] == 5.0
    assert matrix[1, 1] == pytest.approx(np.median(data[:, 1]))


def test_load_model_feature_mismatch(tmp_path: Path) -> None:
    path = save_model(train(healthy_rows(), ["a", "b", "c", "d"]), tmp_path / "model.joblib")

    with pytest.raises(ValueError, match="trained on features"):
        load_model(path, feature_names=["a", "b", "c", "x"])


def test_load_model_other_format_rejected(tmp_path: Path) -> None:
    path = tmp_path / "old.joblib"
    model = train(healthy_rows(), ["a", "b", "c", "d"])
    joblib.dump({"format_version": 0, "model": model}, path)

    with pytest.raises(ValueError, match="retrain"):
        load_model(path)


def test_load_model_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="qianliyan train"):
        load_model(tmp_path / "absent.joblib")


@pytest.mark.parametrize(("names", "message"), [(["a", "b", "c"], "feature names were given"), (["a", "a", "c", "d"], "repeat")])
def test_train_invalid_names(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train(healthy_rows(), names)


def test_max_over_features_all_nan_row() -> None:
    result = max_over_features(np.array([[1.0, np.nan], [np.nan, np.nan]]))

    assert result[0] == 1.0
    assert np.isnan(result[1])


def feed(detector: object, values: list[float]) -> list[float]:
    return [float(detector.score_learn_many(np.array([[value]]))[0]) for value in values]  # type: ignore[attr-defined]


def test_robust_z_ignores_short_burst() -> None:
    # Learns from every value, but a 3-value burst does not move the median of 30.
    detector = RobustZScore(window=30, min_samples=10)
    rng = np.random.default_rng(0)
    feed(detector, list(10 + rng.normal(0, 1, 40)))
    feed(detector, [50.0, 50.0, 50.0])

    after = feed(detector, [10.0])[0]

    assert RobustZScore.learns_from_anomalies
    assert after < 2.0


def test_ewma_absorbs_level_shift() -> None:
    detector = EwmaZScore(alpha=0.1, warmup=5)
    rng = np.random.default_rng(0)
    feed(detector, list(10 + rng.normal(0, 1, 50)))

    first = feed(detector, [20.0])[0]
    later = feed(detector, [20.0] * 100)[-1]

    assert EwmaZScore.learns_from_anomalies
    assert first > 5
    assert later < 1


def test_cusum_reference_ignores_drift() -> None:
    detector = Cusum(warmup=20, threshold=1e9)
    rng = np.random.default_rng(0)
    feed(detector, list(rng.normal(0, 1, 20)))

    scores = feed(detector, [2.0] * 50)

    assert not Cusum.learns_from_anomalies
    assert scores[-1] > scores[10] > scores[0]


def test_cusum_restarts_after_threshold() -> None:
    detector = Cusum(warmup=20, threshold=5.0)
    rng = np.random.default_rng(0)
    feed(detector, list(rng.normal(0, 1, 20)))

    scores = feed(detector, [3.0] * 6)

    # Each step adds about 3 - 0.5; the sum passes 5 on the second step and restarts.
    assert scores[1] > 5.0
    assert scores[2] < scores[1]


def test_peer_persistence_k_of_n() -> None:
    detector = PeerDeviation(persistence_k=2, persistence_n=3)
    normal = np.tile([[100.0]], (6, 1)) + np.arange(6)[:, None] * 0.1
    blip = normal.copy()
    blip[0, 0] = 200.0
    detector.learn_many(normal)
    detector.learn_many(normal)

    one_blip = detector.score_learn_many(blip)[0]
    two_blips = detector.score_learn_many(blip)[0]

    assert one_blip < 3.0
    assert two_blips > 10.0


@pytest.mark.parametrize(("direction", "low_flagged", "high_flagged"), [("both", True, True), ("low", True, False), ("high", False, True)])
def test_peer_direction(direction: str, low_flagged: bool, high_flagged: bool) -> None:
    detector = PeerDeviation(persistence_k=1, persistence_n=1, direction=direction)
    values = np.array([[100.0], [100.1], [99.9], [100.0], [50.0], [150.0]])

    scores = detector.score_many(values)

    assert bool(scores[4] > 10.0) is low_flagged
    assert bool(scores[5] > 10.0) is high_flagged


def test_peer_unknown_direction_rejected() -> None:
    with pytest.raises(ValueError, match="direction"):
        PeerDeviation(direction="sideways")


def test_peer_too_few_reporting_nan() -> None:
    detector = PeerDeviation(persistence_k=1, persistence_n=1)
    values = np.array([[1.0], [np.nan], [np.nan], [2.0]])

    assert np.isnan(detector.score_many(values)).all()


def test_straggler_ignores_job_wide_slowdown() -> None:
    detector = StragglerDetector(warmup=1)
    detector.learn_many(np.full((8, 1), 2.0))

    scores = detector.score_many(np.full((8, 1), 3.0))

    np.testing.assert_array_equal(scores, np.zeros(8))


def test_hang_baseline_ignores_hang() -> None:
    detector = HangDetector(warmup=3)
    for step in range(5):
        detector.learn_many(np.array([[float(step), 1e9]]))
    for _ in range(30):
        detector.learn_many(np.array([[4.0, 0.0]]))

    score = detector.score_many(np.array([[4.0, 0.0]]))[0]

    assert not HangDetector.learns_from_anomalies
    assert score == pytest.approx(31.0)


def test_hang_traffic_clears_stall() -> None:
    detector = HangDetector(warmup=3)
    for step in range(5):
        detector.learn_many(np.array([[float(step), 1e9]]))
    detector.learn_many(np.array([[4.0, 0.0]]))

    score = detector.score_many(np.array([[4.0, 9e8]]))[0]

    assert score == 0.0


def test_anomaly_gpu_kind_needs_index() -> None:
    with pytest.raises(ValueError, match="needs the GPU index"):
        Anomaly(time=START, entity="n1", entity_kind="gpu", detector="test", score=1.0, severity="info")


def test_anomaly_rejects_nan_score() -> None:
    with pytest.raises(ValueError, match="finite"):
        Anomaly(time=START, entity="n1", entity_kind="node", detector="test", score=float("nan"), severity="info")


def test_anomaly_json_round_trip() -> None:
    anomaly = Anomaly(time=START, entity="n1", entity_kind="gpu", gpu=2, detector="rule.ecc", score=3.0, threshold=1.0, severity="critical", evidence={"x": 1})

    assert Anomaly.model_validate_json(anomaly.model_dump_json()) == anomaly
    assert anomaly.key == "n1"
