from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emulators.faults.calibration import calibrate, load_trace, repair_hours, weibull_shape
from emulators.faults.random_process import RandomFaultConfig
from tests.emulators.harness import DATA_DIR

TRACE = DATA_DIR / "infinitehbd-fault-trace" / "fault_trace.json"
# The trace's README: 400 GPU servers sampled from the cluster.
TRACE_FLEET_NODES = 400


def test_trace_calibration_figures() -> None:
    calibration = calibrate(load_trace(TRACE))
    assert calibration.faults == 584
    assert calibration.nodes_observed == 231
    assert calibration.repair_median_hours == pytest.approx(22.2, abs=0.5)
    assert calibration.repair_log_sigma == pytest.approx(2.52, abs=0.05)
    assert calibration.interarrival_weibull_shape == pytest.approx(0.62, abs=0.03)
    assert calibration.rate_per_1000_node_days(TRACE_FLEET_NODES) == pytest.approx(4.2, abs=0.1)


def test_random_defaults_match_trace() -> None:
    calibration = calibrate(load_trace(TRACE))
    config = RandomFaultConfig()
    assert config.repair_median_hours == pytest.approx(calibration.repair_median_hours, rel=0.05)
    assert config.repair_log_sigma == pytest.approx(calibration.repair_log_sigma, rel=0.05)
    assert config.weibull_shape == pytest.approx(calibration.interarrival_weibull_shape, rel=0.05)


def test_repair_hours_pairs_every_fault() -> None:
    hours = repair_hours(load_trace(TRACE))
    assert len(hours) == 584
    assert (hours >= 0).all()


def test_weibull_shape_of_exponential_is_one() -> None:
    gaps = np.random.default_rng(0).exponential(10.0, 20_000)
    assert weibull_shape(gaps) == pytest.approx(1.0, abs=0.03)


def test_weibull_shape_needs_two_gaps() -> None:
    with pytest.raises(ValueError, match="at least two positive gaps"):
        weibull_shape(np.array([1.0]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "invalid JSON in fault trace"),
        ('{"a": 1}', "must be a JSON list"),
        ('[{"node_id": "a", "event_time": 1.0, "event_type": "fault_start"}]', "event 0 is invalid: KeyError\\('fault_type'\\)"),
        ('[{"node_id": "a", "event_time": 1.0, "event_type": "begin", "fault_type": {}}]', "event 0 is invalid.*fault_start or fault_end"),
    ],
)
def test_load_trace_rejects_bad_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "trace.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_trace(path)
