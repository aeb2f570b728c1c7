"""Streaming statistics on each GPU against the other GPUs of its node, one detector per node."""

from __future__ import annotations

import warnings
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.base import FeatureScoringDetector
from detectors.stats import RobustZScore
from pipeline.schemas import GpuTelemetry

# Gauges worth scoring, each with the smallest spread treated as noise (an estimate).
# Values are divided by it, so a gauge that sat still does not turn a tiny step into a
# huge score.
GPU_STATS_SCALES: Final = {
    "DCGM_FI_DEV_GPU_TEMP": 1.0,  # °C
    "DCGM_FI_DEV_POWER_USAGE": 20.0,  # W
    "DCGM_FI_DEV_SM_CLOCK": 30.0,  # MHz
    "DCGM_FI_DEV_GPU_UTIL": 5.0,  # %
}
GPU_STATS_FIELDS: Final = tuple(GPU_STATS_SCALES)
_SCALES = np.array([GPU_STATS_SCALES[field] for field in GPU_STATS_FIELDS])


class GpuStatsStage:
    """Score every GPU's distance from its node's median with a robust z-score over time.

    Training moves all GPUs of a node together (checkpoints, collectives, job restarts),
    so each gauge is first taken relative to the median GPU of the node at the same
    sample. What remains is a GPU that differs from its neighbours, such as one with
    a bad thermal interface or a lower clock. The residual is then compared with its own
    recent window.

    One anomaly is reported when a GPU's score first reaches ``threshold`` on
    ``persistence`` consecutive samples; it re-arms when the score falls below it.
    """

    name: Final = "stats.robust_z"

    def __init__(self, *, threshold: float = 8.0, persistence: int = 3, window: int = 60, min_samples: int = 30) -> None:
        self.threshold = threshold
        self.persistence = persistence
        self.window = window
        self.min_samples = min_samples
        self._detectors: dict[str, FeatureScoringDetector] = {}
        self._streaks: dict[str, np.ndarray] = {}

    def process(self, message: GpuTelemetry) -> list[Anomaly]:
        """Score one node's sample, learn it, and return anomalies that just started."""
        gpus = sorted(message.gpus, key=lambda sample: sample.gpu)
        matrix = np.array(
            [[_value(getattr(sample, field)) for field in GPU_STATS_FIELDS] for sample in gpus], dtype=float
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            node_median = np.nanmedian(matrix, axis=0)
        scaled = (matrix - node_median) / _SCALES
        detector = self._detectors.get(message.node)
        if detector is None or detector.n_entities != matrix.shape[0]:
            detector = RobustZScore(window=self.window, min_samples=self.min_samples, min_scale=1.0)
            self._detectors[message.node] = detector
            self._streaks[message.node] = np.zeros(matrix.shape[0], dtype=int)

        per_feature = detector.score_features_many(scaled)
        detector.learn_many(scaled)

        streaks = self._streaks[message.node]
        with np.errstate(invalid="ignore"):
            scores = np.nanmax(np.where(np.isnan(per_feature), -np.inf, per_feature), axis=1)
        above = scores >= self.threshold
        streaks[:] = np.where(above, streaks + 1, 0)

        anomalies = []
        for row in np.flatnonzero(streaks == self.persistence):
            field_index = int(np.nanargmax(np.where(np.isnan(per_feature[row]), -np.inf, per_feature[row])))
            field = GPU_STATS_FIELDS[field_index]
            # One GPU hotter than the rest of its node, at the same coolant: a bad thermal interface.
            hot = field == "DCGM_FI_DEV_GPU_TEMP" and matrix[row, field_index] > node_median[field_index]
            anomalies.append(
                Anomaly(
                    time=message.time,
                    cluster=message.cluster,
                    entity=message.node,
                    entity_kind="gpu",
                    gpu=gpus[row].gpu,
                    rack=message.rack,
                    detector=self.name,
                    score=float(scores[row]),
                    threshold=self.threshold,
                    severity="warning",
                    fault_class="gpu_thermal" if hot else None,
                    evidence={"field": field, "value": float(matrix[row, field_index]), "node_median": float(node_median[field_index])},
                    message=f"{field} of GPU {gpus[row].gpu} on {message.node} departs from its own recent values",
                )
            )
        return anomalies


def _value(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)
