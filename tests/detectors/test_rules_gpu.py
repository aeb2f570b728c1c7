"""Boundary tests of the GPU rules: ECC, PCIe, NVLink, clock events and Xid."""

from __future__ import annotations

import pytest

from detectors.rules.base import REARM_AFTER_CLEAR_CHECKS
from detectors.rules.clocks import ClockEventRule
from detectors.rules.ecc import EccRule
from detectors.rules.nvlink_pcie import NvlinkRule, PcieReplayRule, pcie_replay_limit
from detectors.rules.xid import XidFieldRule, XidRule
from tests.detectors.messages import gpu_telemetry, xid_event


@pytest.mark.parametrize(
    ("generation", "width", "limit"),
    [(1, 16, 3), (2, 16, 5), (3, 16, 8), (4, 16, 16), (5, 16, 31), (6, 16, 62), (4, 8, 8), (5, 4, 8), (2, 10, 3)],
)
def test_pcie_replay_limit_by_link(generation: int, width: int, limit: int) -> None:
    assert pcie_replay_limit(generation, width) == limit


def test_pcie_replay_limit_unknown_generation() -> None:
    assert pcie_replay_limit(7, 16) is None


@pytest.mark.parametrize(
    ("generation", "replays", "fires"),
    [(4, 15, False), (4, 16, False), (4, 17, True), (5, 30, False), (5, 31, False), (5, 32, True)],
    ids=["gen4-15", "gen4-16", "gen4-17", "gen5-30", "gen5-31", "gen5-32"],
)
def test_pcie_replay_boundary(generation: int, replays: int, fires: bool) -> None:
    rule = PcieReplayRule()
    state = rule.new_state()
    link = {"DCGM_FI_DEV_PCIE_LINK_GEN": generation, "DCGM_FI_DEV_PCIE_LINK_WIDTH": 16}
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=1000, **link), state)

    anomalies = rule.check(gpu_telemetry(60, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=1000 + replays, **link), state)

    assert len(anomalies) == int(fires)
    if fires:
        assert anomalies[0].severity == "warning"
        assert anomalies[0].score == replays
        assert anomalies[0].threshold == pcie_replay_limit(generation, 16)


def test_pcie_replay_waits_full_window() -> None:
    rule = PcieReplayRule()
    state = rule.new_state()
    link = {"DCGM_FI_DEV_PCIE_LINK_GEN": 5, "DCGM_FI_DEV_PCIE_LINK_WIDTH": 16}
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=0, **link), state)

    early = rule.check(gpu_telemetry(59, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=500, **link), state)
    late = rule.check(gpu_telemetry(60, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=500, **link), state)

    assert early == []
    assert len(late) == 1


def test_pcie_replay_reported_once() -> None:
    rule = PcieReplayRule()
    state = rule.new_state()
    link = {"DCGM_FI_DEV_PCIE_LINK_GEN": 5, "DCGM_FI_DEV_PCIE_LINK_WIDTH": 16}
    for second in range(0, 61):
        rule.check(gpu_telemetry(second, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=second * 10, **link), state)

    again = rule.check(gpu_telemetry(61, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=610, **link), state)

    assert again == []


def test_pcie_downgrade_detected() -> None:
    rule = PcieReplayRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_PCIE_LINK_GEN=5, DCGM_FI_DEV_PCIE_LINK_WIDTH=16), state)

    same = rule.check(gpu_telemetry(1, DCGM_FI_DEV_PCIE_LINK_GEN=5, DCGM_FI_DEV_PCIE_LINK_WIDTH=16), state)
    narrower = rule.check(gpu_telemetry(2, DCGM_FI_DEV_PCIE_LINK_GEN=5, DCGM_FI_DEV_PCIE_LINK_WIDTH=8), state)

    assert same == []
    assert len(narrower) == 1
    assert narrower[0].fault_class == "pcie_degradation"
    assert narrower[0].evidence["best_link_width"] == 16


@pytest.mark.parametrize(
    ("crc_per_second", "severity"),
    [(0, None), (1, "warning"), (99, "warning"), (100, "critical"), (101, "critical")],
)
def test_nvlink_crc_boundary(crc_per_second: int, severity: str | None) -> None:
    rule = NvlinkRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL=0), state)

    anomalies = rule.check(gpu_telemetry(2, DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL=2 * crc_per_second), state)

    assert [anomaly.severity for anomaly in anomalies] == ([] if severity is None else [severity])


@pytest.mark.parametrize("field", ["DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL"])
@pytest.mark.parametrize(("increase", "fires"), [(0, False), (1, True), (2, True)])
def test_nvlink_replay_recovery_boundary(field: str, increase: int, fires: bool) -> None:
    rule = NvlinkRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, **{field: 5}), state)

    anomalies = rule.check(gpu_telemetry(1, **{field: 5 + increase}), state)

    assert len(anomalies) == int(fires)
    if fires:
        assert anomalies[0].severity == "critical"


@pytest.mark.parametrize(("count", "fires"), [(0, False), (1, True), (2, True)])
def test_ecc_dbe_boundary(count: int, fires: bool) -> None:
    rule = EccRule()

    anomalies = rule.check(gpu_telemetry(0, DCGM_FI_DEV_ECC_DBE_VOL_TOTAL=count), rule.new_state())

    assert len(anomalies) == int(fires)
    if fires:
        assert anomalies[0].severity == "critical"
        assert anomalies[0].fault_class == "hbm_uncorrectable"


def test_ecc_dbe_each_increase_reported() -> None:
    rule = EccRule()
    state = rule.new_state()

    first = rule.check(gpu_telemetry(0, DCGM_FI_DEV_ECC_DBE_VOL_TOTAL=1), state)
    same = rule.check(gpu_telemetry(1, DCGM_FI_DEV_ECC_DBE_VOL_TOTAL=1), state)
    more = rule.check(gpu_telemetry(2, DCGM_FI_DEV_ECC_DBE_VOL_TOTAL=2), state)

    assert len(first) == 1
    assert same == []
    assert len(more) == 1


@pytest.mark.parametrize(
    ("field", "value", "severity"),
    [
        ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", 511, None),
        ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", 512, "warning"),
        ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", 513, "warning"),
        ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", 10, None),
        ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", 11, "warning"),
        ("DCGM_FI_DEV_ROW_REMAP_FAILURE", 0, None),
        ("DCGM_FI_DEV_ROW_REMAP_FAILURE", 1, "critical"),
        ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 49_999_999, None),
        ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 50_000_000, "warning"),
        ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 50_000_001, "warning"),
    ],
)
def test_ecc_counter_boundary(field: str, value: int, severity: str | None) -> None:
    rule = EccRule()

    anomalies = rule.check(gpu_telemetry(0, **{field: value}), rule.new_state())

    assert [anomaly.severity for anomaly in anomalies] == ([] if severity is None else [severity])


def test_ecc_condition_rearms_after_clear() -> None:
    rule = EccRule()
    state = rule.new_state()
    field = "DCGM_FI_DEV_ROW_REMAP_FAILURE"

    values = [1, 1] + [0] * REARM_AFTER_CLEAR_CHECKS + [1]

    results = [rule.check(gpu_telemetry(second, **{field: value}), state) for second, value in enumerate(values)]

    assert [len(result) for result in results] == [1] + [0] * (REARM_AFTER_CLEAR_CHECKS + 1) + [1]


def test_ecc_condition_short_clear_no_repeat() -> None:
    rule = EccRule()
    state = rule.new_state()
    field = "DCGM_FI_DEV_ROW_REMAP_FAILURE"

    results = [rule.check(gpu_telemetry(second, **{field: value}), state) for second, value in enumerate([1, 0, 1, 0, 1])]

    assert [len(result) for result in results] == [1, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("bits", "reasons"),
    [
        (0x0, []),
        (0x1, []),
        (0x4, ["power_cap"]),
        (0x8, ["hw_slowdown"]),
        (0x20, ["sw_thermal"]),
        (0x40, ["hw_thermal"]),
        (0x80, ["hw_power_brake"]),
        (0x48, ["hw_slowdown", "hw_thermal"]),
    ],
)
def test_clock_event_reasons(bits: int, reasons: list[str]) -> None:
    rule = ClockEventRule()

    anomalies = rule.check(gpu_telemetry(0, DCGM_FI_DEV_CLOCKS_EVENT_REASONS=bits), rule.new_state())

    assert [anomaly.evidence["clock_event"] for anomaly in anomalies] == reasons


def test_clock_power_cap_is_info() -> None:
    rule = ClockEventRule()

    anomalies = rule.check(gpu_telemetry(0, DCGM_FI_DEV_CLOCKS_EVENT_REASONS=0x4), rule.new_state())

    assert anomalies[0].severity == "info"


@pytest.mark.parametrize("field", ["DCGM_FI_DEV_POWER_VIOLATION", "DCGM_FI_DEV_THERMAL_VIOLATION"])
@pytest.mark.parametrize(("increase_ns", "fires"), [(0, False), (1, True), (500_000_000, True)])
def test_clock_violation_boundary(field: str, increase_ns: int, fires: bool) -> None:
    rule = ClockEventRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, **{field: 10}), state)

    anomalies = rule.check(gpu_telemetry(1, **{field: 10 + increase_ns}), state)

    assert len(anomalies) == int(fires)


@pytest.mark.parametrize(
    ("code", "severity", "fault_class"),
    [
        (13, "warning", "software_crash"),
        (31, "warning", "software_crash"),
        (43, "info", "software_crash"),
        (48, "critical", "hbm_uncorrectable"),
        (63, "info", "hbm_uncorrectable"),
        (79, "critical", "gpu_fell_off_bus"),
        (119, "critical", "gsp_hang"),
        (147, "critical", "nvlink_fault"),
        (999, "warning", None),
    ],
)
def test_xid_classification(code: int, severity: str, fault_class: str | None) -> None:
    rule = XidRule()

    anomalies = rule.check(xid_event(code), rule.new_state())

    assert len(anomalies) == 1
    assert anomalies[0].severity == severity
    assert anomalies[0].fault_class == fault_class
    assert anomalies[0].evidence["xid"] == code


@pytest.mark.parametrize(("delay", "suppressed"), [(0, True), (59, True), (60, True), (61, False)])
def test_xid_secondary_window_boundary(delay: int, suppressed: bool) -> None:
    rule = XidRule()
    state = rule.new_state()
    rule.check(xid_event(48, 0), state)

    anomalies = rule.check(xid_event(63, delay), state)

    assert len(anomalies) == int(not suppressed)


def test_xid_primary_after_primary_reported() -> None:
    rule = XidRule()
    state = rule.new_state()
    rule.check(xid_event(48, 0), state)

    anomalies = rule.check(xid_event(79, 5), state)

    assert len(anomalies) == 1


def test_xid_repeated_event_id_dropped() -> None:
    rule = XidRule()
    state = rule.new_state()

    first = rule.check(xid_event(79, 0, event_id="e-1"), state)
    repeat = rule.check(xid_event(79, 0, event_id="e-1"), state)

    assert len(first) == 1
    assert repeat == []


def test_xid_field_suppresses_same_sample() -> None:
    rule = XidFieldRule()
    gpus = [{"gpu": 0, "DCGM_FI_DEV_XID_ERRORS": 43}, {"gpu": 1, "DCGM_FI_DEV_XID_ERRORS": 13}]

    anomalies = rule.check(gpu_telemetry(0, gpus=gpus), rule.new_state())

    assert [anomaly.evidence["xid"] for anomaly in anomalies] == [13]


def test_xid_field_same_code_once() -> None:
    rule = XidFieldRule()
    state = rule.new_state()

    first = rule.check(gpu_telemetry(0, DCGM_FI_DEV_XID_ERRORS=79), state)
    again = rule.check(gpu_telemetry(1, DCGM_FI_DEV_XID_ERRORS=79), state)

    assert len(first) == 1
    assert again == []
