"""Each fault kind produces its documented signature, compared with a healthy run of the same seed.

Every fault starts at second 30 on node r000-n01 (GPU 1), rack r000 or switch leaf000 of
the small test topology, whose job runs on r000-n00, r000-n01 and r001-n00.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cache

import pytest

from emulators.faults.catalog import CATALOG
from emulators.gpu import CLOCK_EVENT_HW_POWER_BRAKE, CLOCK_EVENT_HW_SLOWDOWN, CLOCK_EVENT_POWER_CAP, CLOCK_EVENT_SW_THERMAL
from emulators.job import JobConfig
from pipeline import topics
from tests.emulators.harness import SMALL, Run, fault, run

NODE = "r000-n01"
PEER = "r000-n00"
OTHER_RACK_NODE = "r001-n00"
GPU = 1
PLACE = {"gpu": {"node": 1, "gpu": GPU}, "node": {"node": 1}, "rack": {"rack": 0}, "switch": {"switch": 0}, "job": {}, "cluster": {}}
SECONDS = 150


@cache
def healthy() -> Run:
    return run(seconds=SECONDS)


@cache
def faulty(kind: str) -> Run:
    return run([fault(kind, 30, **PLACE[CATALOG[kind].scope])], seconds=SECONDS)


def counter(run_: Run, second: int, field: str, node: str = NODE, gpu: int = GPU) -> int:
    sample = run_.gpu(second, node, gpu)
    assert sample is not None
    return int(sample[field])


def port_counter(run_: Run, second: int, field: str, node: str = NODE) -> int:
    port = run_.port(second, node)
    assert port is not None
    return int(port[field])


def mean_step_time(run_: Run, node: str | None = None) -> float:
    times = run_.step_times(60, SECONDS, node)
    return sum(times) / len(times)


def mean_gpu_field(run_: Run, node: str, field: str, gpu: int = 0) -> float:
    values = []
    for second in range(90, SECONDS):
        sample = run_.gpu(second, node, gpu)
        assert sample is not None
        values.append(float(sample[field]))
    return sum(values) / len(values)


def check_gpu_fell_off_bus(run_: Run) -> None:
    assert counter(run_, 45, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER") > 10
    gone = run_.gpu(60, NODE, GPU)
    assert gone is not None
    assert "DCGM_FI_DEV_GPU_TEMP" not in gone
    assert run_.xid_codes() == [79]
    assert len(run_.events("gpu_missing")) == 1
    assert run_.emulator.job.state == "down"


def check_gpu_hard_fault(run_: Run) -> None:
    assert run_.xid_codes() == [46]
    assert counter(run_, 60, "DCGM_FI_DEV_XID_ERRORS") == 46
    assert counter(run_, 60, "DCGM_FI_DEV_GPU_UTIL") == 0
    assert run_.emulator.job.state == "down"


def check_hbm_uncorrectable(run_: Run) -> None:
    assert run_.xid_codes() == [48, 63, 94]
    assert counter(run_, 60, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL") == 1
    assert counter(run_, 60, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS") == 1
    assert len(run_.events("ecc_dbe")) == 1
    assert run_.emulator.job.state == "down"


def check_gpu_sram_uncorrectable(run_: Run) -> None:
    assert run_.xid_codes() == [48, 94]
    assert counter(run_, 60, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL") == 1
    assert counter(run_, 60, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS") == 0
    assert run_.emulator.job.state == "down"


def check_ecc_sbe_storm(run_: Run) -> None:
    assert counter(run_, SECONDS - 1, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL") - counter(run_, 30, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL") > 5
    assert run_.xid_codes()[0] == 92
    assert counter(run_, SECONDS - 1, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", node=PEER) == 0
    assert run_.emulator.job.state == "running"


def check_nvlink_fault(run_: Run) -> None:
    crc = counter(run_, 60, "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL") - counter(run_, 40, "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL")
    assert crc / 20 >= 100
    assert counter(run_, 60, "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL") >= 1
    assert run_.xid_codes() == [74]
    assert port_counter(run_, 60, "rx_bytes_phy", PEER) == port_counter(run_, 40, "rx_bytes_phy", PEER)
    assert run_.emulator.job.state == "hung"


def check_pcie_degradation(run_: Run) -> None:
    assert counter(run_, 60, "DCGM_FI_DEV_PCIE_LINK_GEN") == 3
    replays_per_minute = counter(run_, 100, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER") - counter(run_, 40, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER")
    assert replays_per_minute > 31
    assert mean_step_time(run_) > mean_step_time(healthy()) * 1.05


def check_gsp_hang(run_: Run) -> None:
    frozen = run_.gpu(60, NODE, GPU)
    assert frozen is not None
    assert set(frozen) == {"gpu", "uuid", "DCGM_FI_DEV_POWER_USAGE"}
    assert run_.xid_codes() == [119]
    assert run_.emulator.job.state == "hung"


def check_gpu_thermal(run_: Run) -> None:
    hot = run_.gpu(SECONDS - 1, NODE, GPU)
    peer = run_.gpu(SECONDS - 1, NODE, 0)
    assert hot is not None and peer is not None
    assert hot["DCGM_FI_DEV_GPU_TEMP"] >= 84
    assert hot["DCGM_FI_DEV_GPU_TEMP"] > peer["DCGM_FI_DEV_GPU_TEMP"] + 15
    assert counter(run_, SECONDS - 1, "DCGM_FI_DEV_THERMAL_VIOLATION") > 0
    assert hot["DCGM_FI_DEV_SM_CLOCK"] < peer["DCGM_FI_DEV_SM_CLOCK"]


def check_cdu_pump_failure(run_: Run) -> None:
    cooling = run_.rack(topics.COOLING, 60, "r000")
    design = run_.rack(topics.COOLING, 60, "r001")["FlowLitersPerMinute"]
    assert cooling["FlowLitersPerMinute"] < 0.2 * design
    assert cooling["PumpHealth"] == "Critical"
    assert cooling["ReturnTemperatureCelsius"] > healthy().rack(topics.COOLING, 60, "r000")["ReturnTemperatureCelsius"] + 10
    hot = run_.gpu(SECONDS - 1, NODE, 0)
    assert hot is not None
    assert hot["DCGM_FI_DEV_GPU_TEMP"] > 80
    assert hot["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"] & CLOCK_EVENT_SW_THERMAL
    other = run_.gpu(SECONDS - 1, OTHER_RACK_NODE, 0)
    assert other is not None
    assert other["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"] & CLOCK_EVENT_SW_THERMAL == 0
    assert len(run_.events("pump_failure")) == 1


def check_coolant_leak(run_: Run) -> None:
    assert run_.rack(topics.COOLING, 40, "r000")["LeakDetectorState"] == "Warning"
    assert run_.rack(topics.COOLING, 90, "r000")["LeakDetectorState"] == "Critical"
    assert run_.rack(topics.COOLING, 90, "r000")["ReturnPressurekPa"] < run_.rack(topics.COOLING, 90, "r001")["ReturnPressurekPa"] - 20
    assert [event["severity"] for event in run_.events("leak")] == ["warning", "critical"]


def check_facility_water_warm(run_: Run) -> None:
    for rack in ("r000", "r001"):
        warm = run_.rack(topics.COOLING, SECONDS - 1, rack)["SupplyTemperatureCelsius"]
        assert warm > healthy().rack(topics.COOLING, SECONDS - 1, rack)["SupplyTemperatureCelsius"] + 0.2
    warm_gpu = run_.gpu(SECONDS - 1, OTHER_RACK_NODE, 0)
    cool_gpu = healthy().gpu(SECONDS - 1, OTHER_RACK_NODE, 0)
    assert warm_gpu is not None and cool_gpu is not None
    assert warm_gpu["DCGM_FI_DEV_GPU_TEMP"] > cool_gpu["DCGM_FI_DEV_GPU_TEMP"]


def check_link_flap(run_: Run) -> None:
    down = run_.port(32, NODE)
    assert down is not None
    assert down["link_state"] == "down"
    assert port_counter(run_, SECONDS - 1, "link_down_events_phy") == 1
    assert [event["kind"] for event in run_.events()] == ["link_down", "link_up"]
    assert run_.emulator.job.state == "running"
    assert run_.emulator.job.ledger.losses["slow_step"] > healthy().emulator.job.ledger.losses["slow_step"] + 3


def check_pfc_pause_storm(run_: Run) -> None:
    pauses = port_counter(run_, 60, "tx_prio3_pause") - port_counter(run_, 40, "tx_prio3_pause")
    assert pauses / 20 > 10_000
    assert port_counter(run_, SECONDS - 1, "tx_pause_storm_warning_events") > 0
    assert port_counter(run_, 60, "rx_prio3_pause", PEER) - port_counter(run_, 40, "rx_prio3_pause", PEER) > 1_000
    assert mean_step_time(run_) > mean_step_time(healthy()) * 1.2


def check_network_congestion(run_: Run) -> None:
    ecn = port_counter(run_, 60, "np_ecn_marked_roce_packets") - port_counter(run_, 40, "np_ecn_marked_roce_packets")
    calm = port_counter(healthy(), 60, "np_ecn_marked_roce_packets") - port_counter(healthy(), 40, "np_ecn_marked_roce_packets")
    assert ecn > 10 * calm
    assert port_counter(run_, 60, "out_of_sequence") > 0
    assert port_counter(run_, 60, "out_of_sequence", OTHER_RACK_NODE) == 0
    assert mean_step_time(run_) > mean_step_time(healthy()) * 1.05


def check_switch_failure(run_: Run) -> None:
    for node in (PEER, NODE):
        port = run_.port(60, node)
        assert port is not None
        assert port["link_state"] == "down"
    other = run_.port(60, OTHER_RACK_NODE)
    assert other is not None
    assert other["link_state"] == "up"
    assert {event["node"] for event in run_.events("link_down")} == {PEER, NODE}
    assert run_.emulator.job.state == "hung"


def check_psu_failure(run_: Run) -> None:
    power = run_.rack(topics.POWER, 60, "r000")
    assert power["power_supplies"][0]["health"] == "Critical"
    assert power["power_supplies"][0]["PowerOutputWatts"] == 0.0
    assert power["power_supplies"][1]["PowerOutputWatts"] > healthy().rack(topics.POWER, 60, "r000")["power_supplies"][1]["PowerOutputWatts"]
    assert len(run_.events("psu_fault")) == 1
    braked = run_.gpu(32, NODE, 0)
    assert braked is not None
    assert braked["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"] & CLOCK_EVENT_HW_POWER_BRAKE
    assert run_.emulator.job.state == "running"


def check_node_power_loss(run_: Run) -> None:
    assert run_.values(topics.GPU, 60, NODE) == []
    assert run_.values(topics.DPU, 60, NODE) == []
    assert run_.rack(topics.POWER, 60, "r000")["PowerWatts"] < healthy().rack(topics.POWER, 60, "r000")["PowerWatts"] - 500
    assert len(run_.events("psu_fault")) == 1
    assert run_.emulator.job.state == "down"


def check_rack_power_cap(run_: Run) -> None:
    power = run_.rack(topics.POWER, 60, "r000")
    assert power["PowerLimitWatts"] < healthy().rack(topics.POWER, 60, "r000")["PowerWatts"]
    capped = run_.gpu(60, NODE, 0)
    assert capped is not None
    assert capped["DCGM_FI_DEV_ENFORCED_POWER_LIMIT"] < 700
    assert capped["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"] & CLOCK_EVENT_POWER_CAP
    assert "PowerLimitWatts" not in run_.rack(topics.POWER, 60, "r001")


def check_host_fault(run_: Run) -> None:
    assert run_.values(topics.GPU, 60, NODE) == []
    assert run_.events() == []
    assert run_.emulator.job.state == "down"


def check_software_hang(run_: Run) -> None:
    for node in (PEER, NODE, OTHER_RACK_NODE):
        assert port_counter(run_, 60, "rx_bytes_phy", node) == port_counter(run_, 40, "rx_bytes_phy", node)
    spinning = run_.gpu(60, PEER, 0)
    assert spinning is not None
    assert spinning["DCGM_FI_DEV_GPU_UTIL"] > 90
    assert spinning["DCGM_FI_DEV_POWER_USAGE"] < 400
    assert run_.events() == []
    assert run_.emulator.job.state == "hung"


def check_software_crash(run_: Run) -> None:
    xids = run_.events("xid")
    assert {(event["node"], event["gpu"]) for event in xids} == {(node, gpu) for node in (PEER, NODE, OTHER_RACK_NODE) for gpu in range(2)}
    assert {event["code"] for event in xids} == {13}
    assert run_.emulator.job.state == "down"


def local_losses(run_: Run, node: str, first: int = 60) -> list[float]:
    return [value["loss"] for sample in run_.samples[first:] for value in (r.value for r in sample if r.topic == topics.JOB_PROGRESS) if value["node"] == node]


def check_silent_data_corruption(run_: Run) -> None:
    assert run_.all_values(topics.GPU) == healthy().all_values(topics.GPU)
    assert run_.events() == []
    corrupt, peer = local_losses(run_, NODE), local_losses(run_, PEER)
    assert min(corrupt) > 2.0 * max(peer)
    assert max(local_losses(healthy(), NODE)) < 1.2 * min(local_losses(healthy(), PEER))


def check_straggler(run_: Run) -> None:
    slow = run_.gpu(SECONDS - 1, NODE, 0)
    peer = run_.gpu(SECONDS - 1, PEER, 0)
    assert slow is not None and peer is not None
    assert slow["DCGM_FI_DEV_SM_CLOCK"] < 0.93 * peer["DCGM_FI_DEV_SM_CLOCK"]
    assert mean_gpu_field(run_, NODE, "DCGM_FI_DEV_POWER_USAGE") < mean_gpu_field(run_, PEER, "DCGM_FI_DEV_POWER_USAGE") - 30
    assert mean_step_time(run_, NODE) > mean_step_time(run_, PEER) * 1.05
    assert run_.emulator.job.step_number < healthy().emulator.job.step_number


def check_planned_maintenance(run_: Run) -> None:
    job = run_.emulator.job
    assert 1 not in job.members
    assert 3 in job.members
    assert job.ledger.losses["replayed"] < 2.5
    assert job.restarts == 1
    assert run_.events() == []


SIGNATURES: dict[str, Callable[[Run], None]] = {
    name.removeprefix("check_"): check for name, check in globals().items() if name.startswith("check_")
}


def test_signatures_cover_catalog() -> None:
    assert set(SIGNATURES) == set(CATALOG)


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_fault_signature(kind: str) -> None:
    SIGNATURES[kind](faulty(kind))


def test_healthy_run_has_no_events() -> None:
    assert healthy().events() == []
    assert healthy().all_values(topics.FAULTS_TRUTH) == []


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_fault_truth_opens_at_start(kind: str) -> None:
    truth = faulty(kind).all_values(topics.FAULTS_TRUTH)
    assert truth[0]["kind"] == kind
    assert truth[0]["start"] == "2026-01-01T12:00:30Z"
    assert truth[0]["scope"] == CATALOG[kind].scope


@pytest.mark.parametrize(("kind", "nodes"), [("software_crash", [PEER, NODE, OTHER_RACK_NODE]), ("network_congestion", ["r000-n00", "r000-n01"])])
def test_fault_truth_lists_touched_nodes(kind: str, nodes: list[str]) -> None:
    truth = faulty(kind).all_values(topics.FAULTS_TRUTH)
    assert sorted(truth[0]["nodes"]) == sorted(nodes)


def test_pump_failure_reaches_hw_slowdown() -> None:
    hot = run([fault("cdu_pump_failure", 5, rack=0)], seconds=200, job=JobConfig(manual_recovery_seconds=None))
    reasons = [hot.gpu(second, PEER, 0)["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"] for second in range(60, 200)]  # type: ignore[index]
    assert any(reason & CLOCK_EVENT_HW_SLOWDOWN for reason in reasons)


def test_small_topology_places_exist() -> None:
    assert SMALL.node_names[1] == NODE
    assert SMALL.switch_names[0] == "leaf000"


def test_overheated_gpu_shuts_down() -> None:
    hot = run([fault("gpu_thermal", 5, node=1, gpu=GPU)], seconds=120)
    hot.emulator.gpus.temp[1, GPU] = 99.0
    for _ in range(2):
        hot.samples.append(hot.emulator.sample(hot.emulator.last_time + timedelta(seconds=1)))  # type: ignore[operator]
    events = hot.events("gpu_missing")
    sample = hot.gpu(120, NODE, GPU)
    assert [(event["node"], event["gpu"]) for event in events] == [(NODE, GPU)]
    assert sample is not None
    assert "DCGM_FI_DEV_GPU_TEMP" not in sample
    assert hot.emulator.job.state == "down"
