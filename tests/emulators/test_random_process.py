from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import pytest

from emulators.faults.catalog import CATALOG
from emulators.faults.injector import check_fault
from emulators.faults.random_process import LLAMA3_RATES, RandomFaultConfig, RandomFaultProcess
from emulators.topology import Topology
from tests.emulators.harness import START

LARGE = Topology(racks=125, nodes_per_rack=10, nodes_per_leaf_switch=16, spare_nodes=16)
ONLY_INTERRUPTIONS = {
    "lemon_share": 0.0,
    "repeat_multiplier": 1.0,
    "straggler_share": 0.0,
    "comm_fail_slows_per_day": 0.0,
    "compute_fail_slows_per_day": 0.0,
    "link_flaps_per_1000_node_days": 0.0,
    "cdu_events_per_rack_month": 0.0,
}


def draw(config: RandomFaultConfig, days: float, seed: int = 0, topology: Topology = LARGE) -> list:
    process = RandomFaultProcess(topology, config, seed)
    process.due(START)
    return process.due(START + timedelta(days=days))


def test_random_faults_same_seed_same_faults() -> None:
    first = [(fault.kind, fault.start, fault.node) for fault in draw(RandomFaultConfig(), 10, seed=4)]
    second = [(fault.kind, fault.start, fault.node) for fault in draw(RandomFaultConfig(), 10, seed=4)]
    assert first == second


def test_random_faults_other_seed_other_faults() -> None:
    assert [fault.start for fault in draw(RandomFaultConfig(), 10, seed=4)] != [fault.start for fault in draw(RandomFaultConfig(), 10, seed=5)]


def test_random_faults_match_rate() -> None:
    faults = draw(RandomFaultConfig(**ONLY_INTERRUPTIONS), 30)
    expected = 4.0 / 1000 * LARGE.node_count * 30
    assert abs(len(faults) - expected) < 4 * expected**0.5


def test_random_faults_split_by_llama3_rows() -> None:
    faults = draw(RandomFaultConfig(**ONLY_INTERRUPTIONS, rate_multiplier=20), 30)
    counts = Counter(fault.kind for fault in faults)
    total = sum(rate for _, rate, _ in LLAMA3_RATES)
    assert counts["hbm_uncorrectable"] / len(faults) == pytest.approx(0.65 / total, abs=0.03)
    assert counts["gpu_fell_off_bus"] / len(faults) == pytest.approx(1.34 / 3 / total, abs=0.03)


def test_random_faults_pass_checks() -> None:
    faults = draw(RandomFaultConfig(rate_multiplier=50), 10)
    for fault in faults:
        check_fault(fault, LARGE)
    assert {fault.kind for fault in faults} <= set(CATALOG)
    assert len({fault.kind for fault in faults}) >= 15


def test_random_faults_bursty_gaps() -> None:
    faults = draw(RandomFaultConfig(**ONLY_INTERRUPTIONS, bursty=True, rate_multiplier=10), 30)
    starts = np.array(sorted((fault.start - START).total_seconds() for fault in faults))
    gaps = np.diff(starts)
    assert gaps.std() / gaps.mean() > 1.3


def test_random_faults_poisson_gaps() -> None:
    faults = draw(RandomFaultConfig(**ONLY_INTERRUPTIONS, rate_multiplier=10), 30)
    starts = np.array(sorted((fault.start - START).total_seconds() for fault in faults))
    gaps = np.diff(starts)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.15)


def test_random_faults_lemons_fail_more() -> None:
    process = RandomFaultProcess(LARGE, RandomFaultConfig(lemon_share=0.02, rate_multiplier=20), 0)
    lemons = set(np.flatnonzero(process.node_multiplier > 1).tolist())
    faults = [fault for fault in draw(RandomFaultConfig(lemon_share=0.02, rate_multiplier=20), 30) if fault.node is not None and fault.kind not in ("link_flap", "straggler", "pfc_pause_storm")]
    lemon_share_of_faults = sum(fault.node in lemons for fault in faults) / len(faults)
    assert len(lemons) / LARGE.node_count < 0.04
    assert lemon_share_of_faults > 0.08


def test_random_faults_persistent_stragglers_at_start() -> None:
    process = RandomFaultProcess(LARGE, RandomFaultConfig(straggler_share=0.01), 1)
    first = process.due(START)
    stragglers = [fault for fault in first if fault.kind == "straggler"]
    assert 3 <= len(stragglers) <= 30
    assert all(fault.duration_seconds is None for fault in stragglers)


def test_random_faults_repair_median() -> None:
    faults = draw(RandomFaultConfig(**ONLY_INTERRUPTIONS, rate_multiplier=20), 30)
    hours = [fault.duration_seconds / 3600 for fault in faults if fault.duration_seconds is not None]
    assert np.median(hours) == pytest.approx(22.0, rel=0.35)


def test_random_config_rejects_unknown_field() -> None:
    with pytest.raises(ValueError, match="rate_per_day"):
        RandomFaultConfig(rate_per_day=3)  # type: ignore[call-arg]
