"""Streaming statistics on each GPU's own history, one detector per node."""

from __future__ import annotations

from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.base import FeatureScoringDetector
from detectors.stats import RobustZScore
from pipeline.schemas import GpuTelemetry

# Gauges whose sudden change on one GPU, against its own recent past, is worth a look.
GPU_STATS_FIELDS: Final = (
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_GPU_UTIL",
)


class GpuStatsStage:
    """Score every GPU's gauges with a robust z-score over its own recent window.

    One anomaly is reported when a GPU's score first reaches ``threshold`` on
    ``persistence`` consecutive samples; it re-arms when the score falls below it.
    """

    name: Final = "stats.robust_z"

    def __init__(
        self, *, threshold: float = 8.0, persistence: int = 3, window: int = 60, min_samples: int = 30, min_scale: float = 1.0
    ) -> None:
        self.threshold = threshold
        self.persistence = persistence
        self.window = window
        self.min_samples = min_samples
        # One unit of each gauge (1 °C, 1 W, 1 MHz, 1 %) is the smallest deviation worth scoring.
        self.min_scale = min_scale
        self._detectors: dict[str, FeatureScoringDetector] = {}
        self._streaks: dict[str, np.ndarray] = {}

    def process(self, message: GpuTelemetry) -> list[Anomaly]:
        """Score one node's sample, learn it, and return anomalies that just started."""
        gpus = sorted(message.gpus, key=lambda sample: sample.gpu)
        matrix = np.array(
            [[_value(getattr(sample, field)) for field in GPU_STATS_FIELDS] for sample in gpus], dtype=float
        )
        detector = self._detectors.get(message.node)
        if detector is None or detector.n_entities != matrix.shape[0]:
            detector = RobustZScore(window=self.window, min_samples=self.min_samples, min_scale=self.min_scale)
            self._detectors[message.node] = detector
            self._streaks[message.node] = np.zeros(matrix.shape[0], dtype=int)

        per_feature = detector.score_features_many(matrix)
        detector.learn_many(matrix)

        streaks = self._streaks[message.node]
        with np.errstate(invalid="ignore"):
            scores = np.nanmax(np.where(np.isnan(per_feature), -np.inf, per_feature), axis=1)
        above = scores >= self.threshold
        streaks[:] = np.where(above, streaks + 1, 0)

        anomalies = []
        for row in np.flatnonzero(streaks == self.persistence):
            field_index = int(np.nanargmax(np.where(np.isnan(per_feature[row]), -np.inf, per_feature[row])))
            field = GPU_STATS_FIELDS[field_index]
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
                    evidence={"field": field, "value": float(matrix[row, field_index])},
                    message=f"{field} of GPU {gpus[row].gpu} on {message.node} departs from its own recent values",
                )
            )
        return anomalies


def _value(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)
