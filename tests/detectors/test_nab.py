"""Known-answer tests of the NAB score: hand-computed cases and one file scored by NAB itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.evaluation.datasets import DEFAULT_DATA_ROOT, load_nab_corpus, nab_root
from detectors.evaluation.nab import (
    CostProfile,
    NabFile,
    load_profiles,
    optimize_threshold,
    probationary_rows,
    scaled_sigmoid,
    score_corpus,
    score_file,
)

STANDARD = CostProfile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
MAX_TP = 2 / (1 + math.exp(-5)) - 1
# 20 rows: rows 0-2 are probationary (floor(0.15 x 20)); one window on rows 10-13.
WINDOWS = ((10, 13),)


def detections(*rows: int, length: int = 20) -> np.ndarray:
    scores = np.zeros(length)
    scores[list(rows)] = 1.0
    return scores


@pytest.mark.parametrize(("position", "expected"), [(-1.0, MAX_TP), (0.0, 0.0), (1.0, -MAX_TP), (3.0, -1.0), (5.0, -1.0)])
def test_scaled_sigmoid_values(position: float, expected: float) -> None:
    assert scaled_sigmoid(position) == pytest.approx(expected)


@pytest.mark.parametrize(("rows", "probation"), [(20, 3), (1000, 150), (5000, 750), (22695, 750)])
def test_probationary_rows(rows: int, probation: int) -> None:
    assert probationary_rows(rows) == probation


def test_detection_at_window_start_full_reward() -> None:
    result = score_file(NabFile("f", detections(10), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(1.0)
    assert result.normalized == pytest.approx(100.0)


def test_detection_at_window_end_partial_reward() -> None:
    # Position -(13 - 13 + 1) / 4 = -0.25.
    expected = (2 / (1 + math.exp(-1.25)) - 1) / MAX_TP

    result = score_file(NabFile("f", detections(13), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(expected)


def test_only_first_detection_in_window_counts() -> None:
    result = score_file(NabFile("f", detections(10, 11, 12), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(1.0)
    assert result.true_positives == 1


def test_missed_window_costs_fn_weight() -> None:
    result = score_file(NabFile("f", detections(), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(-1.0)
    assert result.normalized == pytest.approx(0.0)


def test_false_positive_before_any_window() -> None:
    result = score_file(NabFile("f", detections(5, 10), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(1.0 - 0.11)


def test_false_positive_after_window_scaled() -> None:
    # Row 14 is 1 row past the window's end: position 1 / (4 - 1).
    expected = 1.0 + 0.11 * (2 / (1 + math.exp(5 / 3)) - 1)

    result = score_file(NabFile("f", detections(10, 14), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(expected)


def test_probationary_detection_ignored() -> None:
    result = score_file(NabFile("f", detections(1, 10), WINDOWS), STANDARD, 0.5)

    assert result.raw == pytest.approx(1.0)
    assert result.false_positives == 0


def test_file_without_windows_not_normalised() -> None:
    result = score_file(NabFile("f", detections(8), ()), STANDARD, 0.5)

    assert result.raw == pytest.approx(-0.11)
    assert result.normalized is None


def test_optimize_threshold_picks_best() -> None:
    scores = np.zeros(20)
    scores[10] = 0.8
    scores[5] = 0.9
    scores[15] = 0.3

    threshold, total = optimize_threshold([NabFile("f", scores, WINDOWS)], STANDARD)

    # At 0.8: window hit (+1) and one false positive (-0.11); at 0.9 the window is missed.
    assert threshold == pytest.approx(0.8)
    assert total == pytest.approx(0.89)


def test_optimize_threshold_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    files = [NabFile(f"f{index}", rng.random(400).round(2), ((100 + index * 30, 130 + index * 30), (300, 340))) for index in range(3)]

    threshold, total = optimize_threshold(files, STANDARD)
    brute = max(sum(score_file(file, STANDARD, candidate).raw for file in files) for candidate in np.unique(np.concatenate([f.scores for f in files])))

    assert total == pytest.approx(brute)
    assert sum(score_file(file, STANDARD, threshold).raw for file in files) == pytest.approx(total)


def test_null_detector_scores_zero() -> None:
    result = score_corpus([NabFile("f", np.zeros(20), WINDOWS)], STANDARD, threshold=1.0)

    assert result.normalized == pytest.approx(0.0)


def test_perfect_detector_scores_hundred() -> None:
    files = [NabFile("f", detections(10), WINDOWS), NabFile("g", detections(10, 20, length=40), ((10, 15), (20, 25)))]

    result = score_corpus(files, STANDARD)

    assert result.raw == pytest.approx(3.0)
    assert result.null == pytest.approx(-3.0)
    assert result.normalized == pytest.approx(100.0)


def test_load_profiles_standard() -> None:
    profiles = load_profiles(nab_root(DEFAULT_DATA_ROOT) / "config" / "profiles.json")

    assert profiles["standard"] == STANDARD


# Rows that NAB's own scorer counted as detections of the Numenta HTM detector on
# realTraffic/speed_7578.csv (threshold 0.5126953125); NAB's published raw standard score
# for that file is 1.23649741556 (results/numenta/numenta_standard_scores.csv in numenta/NAB).
HTM_DETECTIONS = (
    "2015-09-12T00:16:00",
    "2015-09-14T17:45:00",
    "2015-09-15T06:05:00",
    "2015-09-15T14:34:00",
    "2015-09-16T14:19:00",
    "2015-09-16T17:15:00",
    "2015-09-16T17:45:00",
)


def test_nab_published_file_score() -> None:
    corpus = {series.name: series for series in load_nab_corpus()}
    series = corpus["realTraffic/speed_7578.csv"]
    scores = np.isin(series.timestamps, np.array(HTM_DETECTIONS, dtype="datetime64[s]")).astype(float)

    result = score_file(NabFile(series.name, scores, series.windows), STANDARD, 0.5)

    assert np.count_nonzero(scores) == len(HTM_DETECTIONS)
    assert result.raw == pytest.approx(1.23649741556, abs=1e-9)
    assert (result.true_positives, result.false_positives, result.false_negatives) == (3, 3, 1)
