"""Streaming statistics on replayed generic series (SMD machines, NAB series), one detector per entity."""

from __future__ import annotations

import logging
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.base import FeatureScoringDetector
from detectors.stats import EwmaZScore
from pipeline.schemas import GenericTelemetry

logger = logging.getLogger(__name__)


class GenericStage:
    """Score every value of a generic series against its own exponentially weighted past.

    Each (source, entity) gets one :class:`detectors.stats.EwmaZScore` whose features are
    the entity's value names, fixed by its first message. A message with other names
    restarts that entity's detector, so its warm-up starts again.

    One anomaly is reported when the entity's score (the largest over its values) first
    reaches ``threshold`` on ``persistence`` consecutive messages. The entity re-arms when
    the score falls below the threshold. A NaN score (warm-up, or no value) counts as
    below it.

    The defaults are those of the offline ``ewma_z`` run on NAB (``alpha`` 0.005, warm-up
    20, optimised threshold 7.3), rounded. ``min_scale`` 0.01 is the floor used offline for
    SMD, whose values are min-max scaled to [0, 1].

    Args:
        threshold: Score in weighted standard deviations that starts an anomaly.
        persistence: Consecutive messages at or above the threshold before reporting.
        alpha: Weight of the newest value in the EWMA mean and variance.
        warmup: Messages an entity needs before it is scored.
        min_scale: Floor of the standard deviation, in the values' unit.
    """

    name: Final = "stats.ewma_z"

    def __init__(
        self, *, threshold: float = 7.0, persistence: int = 1, alpha: float = 0.005, warmup: int = 20, min_scale: float = 0.01
    ) -> None:
        if persistence < 1:
            raise ValueError(f"persistence must be >= 1 message, got {persistence}")
        self.threshold = threshold
        self.persistence = persistence
        self.alpha = alpha
        self.warmup = warmup
        self.min_scale = min_scale
        self._detectors: dict[tuple[str, str], FeatureScoringDetector] = {}
        self._fields: dict[tuple[str, str], tuple[str, ...]] = {}
        self._streaks: dict[tuple[str, str], int] = {}

    def process(self, message: GenericTelemetry) -> list[Anomaly]:
        """Score one message, learn it, and return the anomaly that just started, if any."""
        key = (message.source, message.entity)
        fields = tuple(sorted(message.values))
        detector = self._detectors.get(key)
        if detector is None or self._fields[key] != fields:
            if detector is not None:
                logger.info("value names changed, restarting detector source=%s entity=%s fields=%d", message.source, message.entity, len(fields))
            detector = EwmaZScore(alpha=self.alpha, warmup=self.warmup, min_scale=self.min_scale)
            self._detectors[key] = detector
            self._fields[key] = fields
            self._streaks[key] = 0

        row = np.array([[_value(message.values[field]) for field in fields]], dtype=float)
        per_feature = detector.score_features_many(row)[0]
        detector.learn_many(row)

        if np.isnan(per_feature).all():
            self._streaks[key] = 0
            return []
        field_index = int(np.nanargmax(per_feature))
        score = float(per_feature[field_index])
        self._streaks[key] = self._streaks[key] + 1 if score >= self.threshold else 0
        if self._streaks[key] != self.persistence:
            return []

        field = fields[field_index]
        return [
            Anomaly(
                time=message.time,
                cluster=message.cluster,
                entity=message.entity,
                entity_kind="series",
                detector=self.name,
                score=score,
                threshold=self.threshold,
                severity="warning",
                evidence={"source": message.source, "field": field, "value": float(row[0, field_index])},
                message=f"{field} of {message.source} series {message.entity} departs from its recent values",
            )
        ]


def _value(value: float | None) -> float:
    """Return the value as a float, NaN for a missing or infinite one (the detector skips NaN)."""
    if value is None or not np.isfinite(value):
        return float("nan")
    return float(value)
