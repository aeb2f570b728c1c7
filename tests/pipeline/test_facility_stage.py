"""Facility drift stage: a CUSUM on each CDU's coolant supply temperature."""

from __future__ import annotations

import numpy as np

from pipeline.detection.facility_stage import FacilityDriftStage
from tests.detectors.messages import cooling_telemetry


def run(stage: FacilityDriftStage, supply: list[float]) -> list[int]:
    """Return the sample indices at which the stage reported an anomaly."""
    return [index for index, value in enumerate(supply) if stage.process(cooling_telemetry(index, SupplyTemperatureCelsius=value))]


def noisy(count: int, level: float = 30.0, seed: int = 0) -> list[float]:
    return list(level + np.random.default_rng(seed).normal(0.0, 0.1, count))


def test_sensor_noise_is_quiet() -> None:
    assert run(FacilityDriftStage(), noisy(3600)) == []


def test_warm_facility_water_found_within_seconds() -> None:
    ramp = [30.0 + min(second / 30.0, 1.0) * 8.0 for second in range(120)]

    reported = run(FacilityDriftStage(), noisy(120) + ramp)

    assert len(reported) == 1
    assert reported[0] - 120 <= 20
    assert FacilityDriftStage().process(cooling_telemetry(0)) == []


def test_small_step_below_the_scale_floor_is_ignored() -> None:
    # 0.2 °C is below the 0.5 °C floor less the drift allowance: it never accumulates.
    assert run(FacilityDriftStage(), noisy(120) + noisy(600, level=30.2, seed=1)) == []


def test_rearms_after_the_supply_settles() -> None:
    stage = FacilityDriftStage(rearm_samples=60)
    warm = [36.0] * 60

    reported = run(stage, noisy(120) + warm + noisy(200, seed=2) + warm)

    assert len(reported) == 2


def test_anomaly_names_the_rack_and_cdu() -> None:
    stage = FacilityDriftStage()
    anomalies = []
    for index, value in enumerate(noisy(100) + [40.0] * 10):
        anomalies += stage.process(cooling_telemetry(index, SupplyTemperatureCelsius=value))

    assert [(anomaly.entity, anomaly.evidence["cdu"], anomaly.fault_class) for anomaly in anomalies] == [("r000", "r000-cdu0", "facility_water_warm")]
