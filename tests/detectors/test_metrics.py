"""Known-answer tests of the labelled-series metrics on small hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.evaluation.metrics import (
    best_composite_f1,
    best_event_wise_f1,
    best_point_adjusted_f1,
    composite_f1,
    event_wise_f1,
    point_adjust,
    point_adjusted_f1,
    point_wise_scores,
    segments,
)

# Two labelled events: rows 2-4 and rows 8-9.
LABELS = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0], dtype=bool)


def flags(*rows: int) -> np.ndarray:
    result = np.zeros(LABELS.size, dtype=bool)
    result[list(rows)] = True
    return result


def test_segments_runs() -> None:
    assert segments(LABELS) == [(2, 5), (8, 10)]


def test_segments_edges_and_empty() -> None:
    assert segments(np.array([1, 1, 0, 1], dtype=bool)) == [(0, 2), (3, 4)]
    assert segments(np.zeros(3, dtype=bool)) == []


def test_point_adjust_fills_hit_segment() -> None:
    adjusted = point_adjust(LABELS, flags(3, 6))

    np.testing.assert_array_equal(adjusted, flags(2, 3, 4, 6))


def test_point_adjusted_f1_known_answer() -> None:
    # One hit in event 1 (3 points after adjustment), one false point, event 2 missed.
    result = point_adjusted_f1(LABELS, flags(3, 6))

    assert result.precision == pytest.approx(3 / 4)
    assert result.recall == pytest.approx(3 / 5)
    assert result.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)


def test_point_wise_without_adjustment() -> None:
    result = point_wise_scores(LABELS, flags(3, 6))

    assert result.precision == pytest.approx(1 / 2)
    assert result.recall == pytest.approx(1 / 5)


def test_event_wise_f1_known_answer() -> None:
    # Runs [0], [3], [6-7] cover events 0, 1 and 0 of their points; event 1 hit, event 2 missed.
    result = event_wise_f1(LABELS, flags(0, 3, 6, 7))

    assert result.precision == pytest.approx(1 / 3)
    assert result.recall == pytest.approx(1 / 2)
    assert result.f1 == pytest.approx(0.4)


def test_event_wise_spill_over_lowers_precision() -> None:
    # One run on rows 5-8: only row 8 lies in an event.
    result = event_wise_f1(LABELS, flags(5, 6, 7, 8))

    assert result.precision == pytest.approx(0.25)
    assert result.recall == pytest.approx(0.5)


def test_event_wise_predict_all_not_perfect() -> None:
    result = event_wise_f1(LABELS, np.ones(LABELS.size, dtype=bool))

    assert result.precision == pytest.approx(5 / 12)
    assert result.recall == pytest.approx(1.0)


def test_composite_f1_known_answer() -> None:
    result = composite_f1(LABELS, flags(3, 6))

    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(0.5)
    assert result.f1 == pytest.approx(0.5)


def test_metrics_no_prediction_zero() -> None:
    for metric in (point_adjusted_f1, event_wise_f1, composite_f1):
        result = metric(LABELS, flags())

        assert result.f1 == 0.0


def test_metrics_length_mismatch_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        point_adjusted_f1(LABELS, np.zeros(3, dtype=bool))


def test_best_point_adjusted_known_answer() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.2, 0.35, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1])

    result = best_point_adjusted_f1(LABELS, scores)

    # At threshold 0.4 both events are detected (5 points) and nothing else: F1 = 1.
    assert result.f1 == pytest.approx(1.0)
    assert result.threshold == pytest.approx(0.4)


def test_best_point_adjusted_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    labels = np.zeros(300, dtype=bool)
    for start in (20, 90, 150, 260):
        labels[start : start + rng.integers(3, 15)] = True
    scores = rng.random(300) + labels * rng.random(300) * 0.5
    scores[5] = np.nan

    result = best_point_adjusted_f1(labels, scores)
    brute = max(point_adjusted_f1(labels, np.nan_to_num(scores, nan=-1) >= threshold).f1 for threshold in np.unique(scores[~np.isnan(scores)]))

    assert result.f1 == pytest.approx(brute)


def test_best_event_wise_finds_clean_threshold() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.2, 0.5, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1])

    result = best_event_wise_f1(LABELS, scores)

    assert result.f1 == pytest.approx(1.0)
    assert 0.5 < result.threshold <= 0.6


def test_best_composite_finds_clean_threshold() -> None:
    scores = np.array([0.1, 0.2, 0.9, 0.9, 0.9, 0.5, 0.1, 0.1, 0.6, 0.6, 0.1, 0.1])

    result = best_composite_f1(LABELS, scores)

    assert result.f1 == pytest.approx(1.0)
    assert 0.5 < result.threshold <= 0.6
