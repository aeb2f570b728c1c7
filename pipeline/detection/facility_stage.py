"""Slow drifts of facility-side coolant gauges: a CUSUM per coolant distribution unit."""

from __future__ import annotations

from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.stats import Cusum
from pipeline.schemas import CoolingTelemetry

# Gauges that the facility, not the rack's load, sets, each with the smallest standard
# deviation treated as real (an estimate): sensor noise below it does not count.
FACILITY_GAUGES: Final = {"SupplyTemperatureCelsius": 0.5}  # °C


class FacilityDriftStage:
    """Find a coolant supply that drifts away from its learned level, such as warm facility water.

    Each CDU gets one two-sided :class:`detectors.stats.Cusum` over ``FACILITY_GAUGES``. The
    supply temperature follows the facility water, not the rack's load, so it stays flat
    through checkpoints and restarts, so a drift of a few degrees is clear. The rule
    limits of ``rule.cooling`` catch the large, fast changes; this stage catches the slow
    ones before they reach those limits.

    One anomaly is reported when a CDU's score first passes ``threshold``; it re-arms after
    ``rearm_samples`` samples in a row with a score below 1.

    Args:
        threshold: CUSUM decision threshold, in reference standard deviations.
        drift: CUSUM allowance per sample, in reference standard deviations.
        warmup: Samples a CDU needs to learn its reference level.
        rearm_samples: Quiet samples after which a CDU can be reported again.
    """

    name: Final = "stats.cusum"

    def __init__(self, *, threshold: float = 20.0, drift: float = 0.5, warmup: int = 60, rearm_samples: int = 60) -> None:
        self.threshold = threshold
        self.drift = drift
        self.warmup = warmup
        self.rearm_samples = rearm_samples
        self._fields = tuple(FACILITY_GAUGES)
        self._min_scales = np.array([FACILITY_GAUGES[field] for field in self._fields])
        self._detectors: dict[str, Cusum] = {}
        self._quiet: dict[str, int] = {}
        self._flagged: set[str] = set()

    def process(self, message: CoolingTelemetry) -> list[Anomaly]:
        """Score one CDU sample, learn it, and return the anomaly that just started, if any."""
        values = np.array([[_value(getattr(message, field)) for field in self._fields]])
        if np.isnan(values).all():
            return []
        detector = self._detectors.get(message.cdu)
        if detector is None:
            detector = Cusum(drift=self.drift, threshold=self.threshold, warmup=self.warmup, min_scale=float(self._min_scales.min()))
            self._detectors[message.cdu] = detector
        scores = detector.score_features_many(values)[0]
        detector.learn_many(values)

        best = int(np.nanargmax(scores)) if not np.isnan(scores).all() else None
        score = float(scores[best]) if best is not None else 0.0
        if score < 1.0:
            self._quiet[message.cdu] = self._quiet.get(message.cdu, 0) + 1
            if self._quiet[message.cdu] >= self.rearm_samples:
                self._flagged.discard(message.cdu)
        else:
            self._quiet[message.cdu] = 0
        if best is None or score < self.threshold or message.cdu in self._flagged:
            return []

        self._flagged.add(message.cdu)
        field = self._fields[best]
        return [
            Anomaly(
                time=message.time, cluster=message.cluster, entity=message.rack, entity_kind="rack", rack=message.rack,
                detector=self.name, score=score, threshold=self.threshold, severity="warning", fault_class="facility_water_warm",
                evidence={"cdu": message.cdu, "field": field, "value": float(values[0, best])},
                message=f"CDU {message.cdu} {field} drifted from its learned level to {values[0, best]:.1f}",
            )
        ]


def _value(value: float | None) -> float:
    return float("nan") if value is None else float(value)
