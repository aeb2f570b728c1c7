"""Boundary tests of the cooling, DPU, power, staleness and hardware-event rules, and rule state storage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from detectors.rules import default_rules
from detectors.rules.cooling import CoolingRule
from detectors.rules.events import HardwareEventRule
from detectors.rules.network import DpuPortRule
from detectors.rules.power import PowerRule
from detectors.rules.staleness import FrozenSeriesRule, SilenceRule
from pipeline.schemas import HardwareEvent
from tests.detectors.messages import START, at, cooling_telemetry, dpu_telemetry, gpu_telemetry, power_telemetry, xid_event


@pytest.mark.parametrize(("state", "severity"), [("OK", None), ("Warning", "warning"), ("Critical", "critical")])
@pytest.mark.parametrize("field", ["LeakDetectorState", "PumpHealth"])
def test_cooling_health_states(field: str, state: str, severity: str | None) -> None:
    rule = CoolingRule()

    anomalies = rule.check(cooling_telemetry(**{field: state}), rule.new_state())

    assert [anomaly.severity for anomaly in anomalies] == ([] if severity is None else [severity])


@pytest.mark.parametrize(("supply", "fires"), [(44.0, False), (45.0, False), (46.0, True)])
def test_cooling_supply_temperature_boundary(supply: float, fires: bool) -> None:
    rule = CoolingRule()

    anomalies = rule.check(cooling_telemetry(SupplyTemperatureCelsius=supply, ReturnTemperatureCelsius=supply + 10), rule.new_state())

    assert [anomaly.fault_class for anomaly in anomalies] == (["facility_water_warm"] if fires else [])


@pytest.mark.parametrize(("delta", "fires"), [(14.0, False), (15.0, False), (16.0, True)])
def test_cooling_delta_t_boundary(delta: float, fires: bool) -> None:
    rule = CoolingRule()

    anomalies = rule.check(cooling_telemetry(SupplyTemperatureCelsius=30.0, ReturnTemperatureCelsius=30.0 + delta), rule.new_state())

    assert len(anomalies) == int(fires)


def warmed_cooling_rule() -> tuple[CoolingRule, Any]:
    rule = CoolingRule(baseline_warmup=10)
    state = rule.new_state()
    for second in range(10):
        rule.check(cooling_telemetry(second), state)
    return rule, state


@pytest.mark.parametrize(
    ("flow", "severities"),
    [(81.0, []), (80.0, ["warning"]), (79.0, ["warning"]), (51.0, ["warning"]), (50.0, ["warning", "critical"]), (49.0, ["warning", "critical"])],
)
def test_cooling_flow_drop_boundary(flow: float, severities: list[str]) -> None:
    rule, state = warmed_cooling_rule()

    anomalies = rule.check(cooling_telemetry(20, FlowLitersPerMinute=flow), state)

    assert [anomaly.severity for anomaly in anomalies] == severities


@pytest.mark.parametrize(("pressure", "fires"), [(241.0, False), (240.0, True), (239.0, True)])
def test_cooling_pressure_drop_boundary(pressure: float, fires: bool) -> None:
    rule, state = warmed_cooling_rule()

    anomalies = rule.check(cooling_telemetry(20, SupplyPressurekPa=pressure), state)

    assert [anomaly.fault_class for anomaly in anomalies] == (["coolant_pressure_low"] if fires else [])


def test_cooling_baseline_ignores_failing_flow() -> None:
    rule, state = warmed_cooling_rule()
    for second in range(20, 200):
        rule.check(cooling_telemetry(second, FlowLitersPerMinute=40.0), state)

    assert state.flow_baseline == pytest.approx(100.0)


def test_cooling_no_baseline_no_flow_alarm() -> None:
    rule = CoolingRule()

    anomalies = rule.check(cooling_telemetry(0, FlowLitersPerMinute=1.0), rule.new_state())

    assert anomalies == []


@pytest.mark.parametrize(("paused_us", "fires"), [(490_000, False), (500_000, True), (510_000, True)])
def test_dpu_pause_share_boundary(paused_us: int, fires: bool) -> None:
    rule = DpuPortRule()
    state = rule.new_state()
    rule.check(dpu_telemetry(0, tx_prio3_pause_duration=0), state)

    anomalies = rule.check(dpu_telemetry(1, tx_prio3_pause_duration=paused_us), state)

    assert [anomaly.fault_class for anomaly in anomalies] == (["pfc_pause_storm"] if fires else [])


@pytest.mark.parametrize(("field", "severity"), [("tx_pause_storm_warning_events", "warning"), ("tx_pause_storm_error_events", "critical")])
def test_dpu_pause_storm_events(field: str, severity: str) -> None:
    rule = DpuPortRule()
    state = rule.new_state()
    rule.check(dpu_telemetry(0, **{field: 0}), state)

    unchanged = rule.check(dpu_telemetry(1, **{field: 0}), state)
    grown = rule.check(dpu_telemetry(2, **{field: 1}), state)

    assert unchanged == []
    assert [anomaly.severity for anomaly in grown] == [severity]


def test_dpu_link_flaps_escalate() -> None:
    rule = DpuPortRule()
    state = rule.new_state()
    rule.check(dpu_telemetry(0, link_down_events_phy=0), state)

    first = rule.check(dpu_telemetry(10, link_down_events_phy=1), state)
    second = rule.check(dpu_telemetry(20, link_down_events_phy=2), state)

    assert [anomaly.severity for anomaly in first] == ["warning"]
    assert [anomaly.severity for anomaly in second] == ["critical"]


@pytest.mark.parametrize(("gap", "severity"), [(299, "critical"), (301, "warning")])
def test_dpu_flap_window_boundary(gap: int, severity: str) -> None:
    rule = DpuPortRule()
    state = rule.new_state()
    rule.check(dpu_telemetry(0, link_down_events_phy=0), state)
    rule.check(dpu_telemetry(1, link_down_events_phy=1), state)

    anomalies = rule.check(dpu_telemetry(1 + gap, link_down_events_phy=2), state)

    assert [anomaly.severity for anomaly in anomalies] == [severity]


def test_dpu_link_down_state() -> None:
    rule = DpuPortRule()

    anomalies = rule.check(dpu_telemetry(0, link_state="down"), rule.new_state())

    assert [anomaly.fault_class for anomaly in anomalies] == ["link_flap"]


@pytest.mark.parametrize(("watts", "fires"), [(59_999.0, False), (60_000.0, True), (60_001.0, True)])
def test_power_cap_boundary(watts: float, fires: bool) -> None:
    rule = PowerRule()

    anomalies = rule.check(power_telemetry(watts=watts, cap=60_000.0), rule.new_state())

    assert [anomaly.fault_class for anomaly in anomalies] == (["rack_power_cap"] if fires else [])


def test_power_uncapped_not_checked() -> None:
    rule = PowerRule()

    anomalies = rule.check(power_telemetry(watts=1e6, cap=None), rule.new_state())

    assert anomalies == []


@pytest.mark.parametrize(("health", "severity"), [("OK", None), ("Warning", "warning"), ("Critical", "critical")])
def test_power_supply_health(health: str, severity: str | None) -> None:
    rule = PowerRule()

    anomalies = rule.check(power_telemetry(psu_health=health), rule.new_state())

    assert [anomaly.severity for anomaly in anomalies] == ([] if severity is None else [severity])


@pytest.mark.parametrize(("frozen_for", "fires"), [(59, False), (60, True), (61, True)])
def test_frozen_series_boundary(frozen_for: int, fires: bool) -> None:
    rule = FrozenSeriesRule(fields=("DCGM_FI_DEV_POWER_USAGE",))
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_POWER_USAGE=500.0), state)

    anomalies = rule.check(gpu_telemetry(frozen_for, DCGM_FI_DEV_POWER_USAGE=500.0), state)

    assert [anomaly.fault_class for anomaly in anomalies] == (["gsp_hang"] if fires else [])


def test_frozen_series_change_resets() -> None:
    rule = FrozenSeriesRule(fields=("DCGM_FI_DEV_POWER_USAGE",))
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_POWER_USAGE=500.0), state)
    rule.check(gpu_telemetry(50, DCGM_FI_DEV_POWER_USAGE=501.0), state)

    anomalies = rule.check(gpu_telemetry(100, DCGM_FI_DEV_POWER_USAGE=501.0), state)

    assert anomalies == []


def test_frozen_gpu_missing_reported() -> None:
    rule = FrozenSeriesRule()
    state = rule.new_state()
    both = [{"gpu": 0, "DCGM_FI_DEV_GPU_TEMP": 60.0}, {"gpu": 1, "DCGM_FI_DEV_GPU_TEMP": 61.0}]
    rule.check(gpu_telemetry(0, gpus=both), state)

    anomalies = rule.check(gpu_telemetry(1, gpus=[{"gpu": 0, "DCGM_FI_DEV_GPU_TEMP": 60.5}]), state)

    assert [(anomaly.gpu, anomaly.fault_class) for anomaly in anomalies] == [(1, "gpu_fell_off_bus")]


def test_frozen_blank_gpu_reported() -> None:
    rule = FrozenSeriesRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_GPU_TEMP=60.0), state)

    anomalies = rule.check(gpu_telemetry(1), state)

    assert [anomaly.fault_class for anomaly in anomalies] == ["gpu_fell_off_bus"]


@pytest.mark.parametrize(("silent_for", "fires"), [(9, False), (10, True), (11, True)])
def test_silence_boundary(silent_for: int, fires: bool) -> None:
    rule = SilenceRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_GPU_TEMP=60.0), state)

    anomalies = rule.check_silence(START + timedelta(seconds=silent_for), state)

    assert len(anomalies) == int(fires)
    if fires:
        assert anomalies[0].entity == "r000-n00"
        assert anomalies[0].entity_kind == "node"


def test_silence_message_rearms() -> None:
    rule = SilenceRule()
    state = rule.new_state()
    rule.check(gpu_telemetry(0, DCGM_FI_DEV_GPU_TEMP=60.0), state)

    first = rule.check_silence(START + timedelta(seconds=20), state)
    repeat = rule.check_silence(START + timedelta(seconds=30), state)
    rule.check(gpu_telemetry(31, DCGM_FI_DEV_GPU_TEMP=60.0), state)
    again = rule.check_silence(START + timedelta(seconds=50), state)

    assert len(first) == 1
    assert repeat == []
    assert len(again) == 1


@pytest.mark.parametrize(("kind", "fault_class"), [("leak", "coolant_leak"), ("psu_fault", "psu_failure"), ("link_up", None), ("xid", None)])
def test_hardware_event_fault_class(kind: str, fault_class: str | None) -> None:
    rule = HardwareEventRule()
    event = HardwareEvent.model_validate(
        {"schema_version": 1, "time": at(0), "kind": kind, "severity": "critical", "rack": "r000", "code": 79 if kind == "xid" else None}
    )

    anomalies = rule.check(event, rule.new_state())

    assert [anomaly.fault_class for anomaly in anomalies] == ([] if fault_class is None else [fault_class])


def sample_messages() -> dict[str, list[Any]]:
    return {
        "telemetry.gpu": [gpu_telemetry(0, DCGM_FI_DEV_ECC_DBE_VOL_TOTAL=1, DCGM_FI_DEV_PCIE_REPLAY_COUNTER=5, DCGM_FI_DEV_GPU_TEMP=60.0)],
        "telemetry.cooling": [cooling_telemetry(0, LeakDetectorState="Critical")],
        "telemetry.dpu": [dpu_telemetry(0, link_down_events_phy=0, tx_prio3_pause_duration=0)],
        "telemetry.power": [power_telemetry(0, watts=70_000.0)],
        "hardware.events": [xid_event(48, 0, event_id="e-1")],
    }


def test_rule_state_json_round_trip() -> None:
    messages = sample_messages()
    for topic, rules in default_rules().items():
        for rule in rules:
            state = rule.new_state()
            for message in messages[topic]:
                rule.check(message, state)

            restored = type(state).model_validate_json(state.model_dump_json())

            assert restored == state, rule.name
