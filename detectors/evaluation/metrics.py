"""Detection metrics: point-adjusted F1, event-wise F1 and composite F1 on labelled series.

Labels and predictions are boolean arrays over time steps; an anomaly segment (event) is a
maximal run of True labels. Three metrics:

- point-adjusted F1 (Xu et al., WWW 2018, "Unsupervised Anomaly Detection via Variational
  Auto-Encoder for Seasonal KPIs"): if any point of a labelled segment is predicted, every
  point of that segment counts as predicted. Precision and recall are then point-wise.
  It is the usual SMD figure. It credits a whole long segment to a detector that hit
  one of its points, so it rates detectors far higher than the other two metrics do.
- event-wise F1 without point adjustment, as range-based precision and recall (Tatbul et
  al., NeurIPS 2018, "Precision and Recall for Time Series") with existence-only recall,
  flat positional bias and no cardinality penalty: recall is the share of labelled events
  that contain at least one predicted point; precision is the mean, over maximal runs of
  predicted points, of the share of each run that lies inside labelled events. A run
  outside every event adds 0, and predicting every point gives precision equal to the
  share of anomalous points.
- composite F1 (Garg et al., IEEE TNNLS 2021, "An Evaluation of Anomaly Detection and
  Diagnosis in Multivariate Time Series"): point-wise precision with event-wise recall.

The ``best_*`` functions search the threshold on the scores that maximises the metric,
which is how most published SMD figures are obtained; the search uses the labels, so its
result is an upper bound, not what a deployed detector would reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectionScores:
    """Precision, recall and F1 of one labelled series, with the threshold when one was searched."""

    precision: float
    recall: float
    f1: float
    threshold: float | None = None


def f1_from(precision: float, recall: float) -> float:
    """Return the harmonic mean of precision and recall, 0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """Return the maximal runs of True as ``(start, end)`` index pairs, ``end`` exclusive."""
    flags = np.asarray(labels, dtype=bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], flags, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), ends.tolist()))


def _check_pair(labels: np.ndarray, values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(labels, dtype=bool)
    other = np.asarray(values)
    if truth.ndim != 1 or truth.shape != other.shape:
        raise ValueError(f"labels and {name} must be 1-D arrays of the same length, got shapes {truth.shape} and {other.shape}")
    return truth, other


def point_adjust(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Return the predictions with every labelled segment that has a hit marked as fully predicted."""
    truth, predicted = _check_pair(labels, predictions, "predictions")
    adjusted = predicted.astype(bool).copy()
    for start, end in segments(truth):
        if adjusted[start:end].any():
            adjusted[start:end] = True
    return adjusted


def point_wise_scores(labels: np.ndarray, predictions: np.ndarray) -> DetectionScores:
    """Return point-wise precision, recall and F1."""
    truth, predicted = _check_pair(labels, predictions, "predictions")
    predicted = predicted.astype(bool)
    true_positives = int(np.count_nonzero(truth & predicted))
    precision = true_positives / max(int(np.count_nonzero(predicted)), 1)
    recall = true_positives / max(int(np.count_nonzero(truth)), 1)
    return DetectionScores(precision, recall, f1_from(precision, recall))


def point_adjusted_f1(labels: np.ndarray, predictions: np.ndarray) -> DetectionScores:
    """Return precision, recall and F1 after point adjustment."""
    return point_wise_scores(labels, point_adjust(labels, predictions))


def event_wise_f1(labels: np.ndarray, predictions: np.ndarray) -> DetectionScores:
    """Return event-wise precision, recall and F1 without point adjustment.

    recall = labelled events with a predicted point / labelled events,
    precision = mean over runs of predicted points of (points of the run inside events / run length).
    """
    truth, predicted = _check_pair(labels, predictions, "predictions")
    predicted = predicted.astype(bool)
    events = segments(truth)
    detected = sum(1 for start, end in events if predicted[start:end].any())
    runs = segments(predicted)
    coverage = [np.count_nonzero(truth[start:end]) / (end - start) for start, end in runs]
    precision = float(np.mean(coverage)) if runs else 0.0
    recall = detected / max(len(events), 1)
    return DetectionScores(precision, recall, f1_from(precision, recall))


def composite_f1(labels: np.ndarray, predictions: np.ndarray) -> DetectionScores:
    """Return point-wise precision, event-wise recall and their F1 (Garg et al. 2021)."""
    truth, predicted = _check_pair(labels, predictions, "predictions")
    precision = point_wise_scores(truth, predicted).precision
    recall = event_wise_f1(truth, predicted).recall
    return DetectionScores(precision, recall, f1_from(precision, recall))


def best_point_adjusted_f1(labels: np.ndarray, scores: np.ndarray) -> DetectionScores:
    """Return the point-adjusted scores at the threshold that maximises F1, searched exactly.

    A point is predicted when its score is >= the threshold; NaN scores never are. Every
    distinct score is tried, in O(n log n): a segment counts as detected once the
    threshold falls to its highest score, and false positives are counted on the
    unlabelled points with a sorted search.
    """
    truth, values = _check_pair(labels, scores, "scores")
    values = np.where(np.isnan(values.astype(float)), -np.inf, values.astype(float))
    events = segments(truth)
    positives = int(np.count_nonzero(truth))
    if not events or not np.isfinite(values).any():
        return DetectionScores(0.0, 0.0, 0.0, None)

    event_max = np.array([values[start:end].max() for start, end in events])
    event_length = np.array([end - start for start, end in events])
    normal_sorted = np.sort(values[~truth])
    candidates = np.unique(values[np.isfinite(values)])

    order = np.argsort(-event_max)
    cumulative_length = np.concatenate([[0], np.cumsum(event_length[order])])
    detected_events = np.searchsorted(-event_max[order], -candidates, side="right")
    true_positives = cumulative_length[detected_events]
    false_positives = normal_sorted.size - np.searchsorted(normal_sorted, candidates, side="left")

    precision = true_positives / np.maximum(true_positives + false_positives, 1)
    recall = true_positives / positives
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1))
    return DetectionScores(float(precision[best]), float(recall[best]), float(f1[best]), float(candidates[best]))


def threshold_candidates(scores: np.ndarray, count: int = 200) -> np.ndarray:
    """Return up to ``count`` thresholds at evenly spaced quantiles of the finite scores."""
    finite = np.asarray(scores, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.array([])
    return np.unique(np.quantile(finite, np.linspace(0.0, 1.0, count)))


def best_event_wise_f1(labels: np.ndarray, scores: np.ndarray, count: int = 200) -> DetectionScores:
    """Return the event-wise scores at the best of ``count`` quantile thresholds.

    Unlike :func:`best_point_adjusted_f1` this search is on a grid, because the runs of
    predicted points split and merge as the threshold moves.
    """
    return _best_on_grid(event_wise_f1, labels, scores, count)


def best_composite_f1(labels: np.ndarray, scores: np.ndarray, count: int = 200) -> DetectionScores:
    """Return the composite scores at the best of ``count`` quantile thresholds."""
    return _best_on_grid(composite_f1, labels, scores, count)


def _best_on_grid(metric: Callable[[np.ndarray, np.ndarray], DetectionScores], labels: np.ndarray, scores: np.ndarray, count: int) -> DetectionScores:
    truth, values = _check_pair(labels, scores, "scores")
    values = np.where(np.isnan(values.astype(float)), -np.inf, values.astype(float))
    best = DetectionScores(0.0, 0.0, 0.0, None)
    for threshold in threshold_candidates(values, count):
        result = metric(truth, values >= threshold)
        if result.f1 > best.f1:
            best = DetectionScores(result.precision, result.recall, result.f1, float(threshold))
    return best
