"""One conformance test per contract clause, run over every registered detector."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone as sklearn_clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from detectors.base import StreamingDetector
from detectors.registry import BATCH_DETECTORS, STREAMING_DETECTORS, BatchSpec, StreamingSpec
from tests.detectors.streams import labelled_stream

STREAMING_IDS = [spec.name for spec in STREAMING_DETECTORS]
BATCH_IDS = [spec.name for spec in BATCH_DETECTORS]


def run_stream(detector: StreamingDetector, steps: np.ndarray) -> np.ndarray:
    return np.stack([detector.score_learn_many(step) for step in steps])


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_clone_fresh_same_params(spec: StreamingSpec) -> None:
    detector = spec.build(3)
    stream = labelled_stream(spec.input_kind)
    run_stream(detector, stream.steps[:20])

    copy = detector.clone()

    assert copy is not detector
    assert copy.get_params() == detector.get_params()
    assert copy.n_entities is None
    np.testing.assert_array_equal(run_stream(copy, stream.steps), run_stream(spec.build(3), stream.steps))


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_same_seed_same_scores(spec: StreamingSpec) -> None:
    stream = labelled_stream(spec.input_kind)

    first = run_stream(spec.build(7), stream.steps)
    second = run_stream(spec.build(7), stream.steps)

    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_anomaly_scores_higher(spec: StreamingSpec) -> None:
    stream = labelled_stream(spec.input_kind)
    scores = run_stream(spec.build(0), stream.steps)

    row = scores[stream.check_step]
    others = np.delete(row, stream.check_entity)

    assert np.isfinite(row[stream.check_entity])
    assert row[stream.check_entity] > np.nanmax(others)


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_warmup_is_nan(spec: StreamingSpec) -> None:
    stream = labelled_stream(spec.input_kind)
    detector = spec.build(0)

    first = detector.score_many(stream.steps[0])
    scores = run_stream(detector, stream.steps)

    assert np.isnan(first).all()
    assert np.isfinite(scores[-1]).all()


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_roc_auc_above_half(spec: StreamingSpec) -> None:
    stream = labelled_stream(spec.input_kind)
    scores = run_stream(spec.build(0), stream.steps)

    finite = np.isfinite(scores)
    auc = roc_auc_score(stream.labels[finite], scores[finite])

    assert auc > 0.5


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_score_does_not_learn(spec: StreamingSpec) -> None:
    stream = labelled_stream(spec.input_kind)
    detector = spec.build(0)
    run_stream(detector, stream.steps[:50])

    before = detector.score_many(stream.steps[50])
    for _ in range(5):
        detector.score_many(stream.steps[51])
    after = detector.score_many(stream.steps[50])

    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("spec", STREAMING_DETECTORS, ids=STREAMING_IDS)
def test_streaming_shape_change_rejected(spec: StreamingSpec) -> None:
    stream = labelled_stream(spec.input_kind)
    detector = spec.build(0)
    detector.learn_many(stream.steps[0])

    with pytest.raises(ValueError, match="use clone"):
        detector.learn_many(stream.steps[0][:-1])


def batch_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return correlated healthy training rows, test rows and test labels."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(0, 1, (600, 2))
    mixing = rng.normal(0, 1, (2, 5))
    train = latent @ mixing + rng.normal(0, 0.1, (600, 5))
    test = rng.normal(0, 1, (200, 2)) @ mixing + rng.normal(0, 0.1, (200, 5))
    labels = np.zeros(200, dtype=bool)
    test[:20] += rng.choice([-4.0, 4.0], (20, 5))
    labels[:20] = True
    return train, test, labels


@pytest.mark.parametrize("spec", BATCH_DETECTORS, ids=BATCH_IDS)
def test_batch_clone_same_params(spec: BatchSpec) -> None:
    detector = spec.build(3)

    copy = sklearn_clone(detector)

    assert copy is not detector
    assert copy.get_params() == detector.get_params()


@pytest.mark.parametrize("spec", BATCH_DETECTORS, ids=BATCH_IDS)
def test_batch_same_seed_same_scores(spec: BatchSpec) -> None:
    train, test, _ = batch_data()

    first = spec.build(7).fit(train).score_samples(test)
    second = spec.build(7).fit(train).score_samples(test)

    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("spec", BATCH_DETECTORS, ids=BATCH_IDS)
def test_batch_anomaly_scores_higher(spec: BatchSpec) -> None:
    train, test, _ = batch_data()
    detector = spec.build(0).fit(train)

    normal = detector.score_samples(train[:1])
    spike = detector.score_samples(train[:1] + 6.0)

    assert spike[0] > normal[0]


@pytest.mark.parametrize("spec", BATCH_DETECTORS, ids=BATCH_IDS)
def test_batch_unfitted_rejected(spec: BatchSpec) -> None:
    _, test, _ = batch_data()

    with pytest.raises(NotFittedError):
        spec.build(0).score_samples(test)


@pytest.mark.parametrize("spec", BATCH_DETECTORS, ids=BATCH_IDS)
def test_batch_roc_auc_above_half(spec: BatchSpec) -> None:
    train, test, labels = batch_data()

    scores = spec.build(0).fit(train).score_samples(test)

    assert roc_auc_score(labels, scores) > 0.5
