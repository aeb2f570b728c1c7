"""Cooling faults: CDU pump failure, coolant leak, facility water too warm."""

from __future__ import annotations

import math

from emulators.effects import HEALTH_CRITICAL, HEALTH_WARNING
from emulators.faults.base import Fault, FaultContext, FaultKind, ramp


class CduPumpFailure(FaultKind):
    """The rack's CDU pump fails: flow drops within seconds, then every GPU on the loop warms and throttles."""

    name = "cdu_pump_failure"
    scope = "rack"
    onset = "fast"
    summary = "flow drops to a trickle, pressure difference collapses, return temperature and every GPU on the loop heat up, then throttle"
    defaults = {"residual_flow": 0.1, "spin_down_seconds": 10.0}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.rack is not None
        ctx.emit(fault, "pump_failure", "critical", "CDU pump failed", rack=fault.rack)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.rack is not None
        residual = self.param(fault, "residual_flow")
        decay = math.exp(-age_seconds / self.param(fault, "spin_down_seconds"))
        effects = ctx.effects
        effects.flow_factor[fault.rack] *= residual + (1.0 - residual) * decay
        effects.pump_health[fault.rack] = HEALTH_CRITICAL
        effects.pump_speed_percent[fault.rack] = 0.0


class CoolantLeak(FaultKind):
    """A coolant leak in the rack: the leak detector trips, loop pressure and later flow fall."""

    name = "coolant_leak"
    scope = "rack"
    onset = "instant"
    summary = "LeakDetector Warning then Critical, loop pressure falls, flow falls after a few minutes"
    defaults = {"critical_after_seconds": 30.0, "pressure_loss_kpa_per_second": 0.5, "max_pressure_loss_kpa": 80.0, "flow_loss_after_seconds": 180.0}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.rack is not None
        ctx.emit(fault, "leak", "warning", "leak detector reports moisture", rack=fault.rack)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        rack = fault.rack
        assert rack is not None
        effects = ctx.effects
        critical = age_seconds >= self.param(fault, "critical_after_seconds")
        effects.leak_state[rack] = HEALTH_CRITICAL if critical else HEALTH_WARNING
        if critical and fault.once("critical"):
            ctx.emit(fault, "leak", "critical", "leak detector critical", rack=rack)
        loss = min(age_seconds * self.param(fault, "pressure_loss_kpa_per_second"), self.param(fault, "max_pressure_loss_kpa"))
        effects.pressure_drop_kpa[rack] += loss
        flow_loss = 0.5 * ramp(age_seconds - self.param(fault, "flow_loss_after_seconds"), 1200.0)
        effects.flow_factor[rack] *= 1.0 - flow_loss


class FacilityWaterWarm(FaultKind):
    """The facility water supply warms for hours: every GPU runs warmer and its clocks drift down."""

    name = "facility_water_warm"
    scope = "cluster"
    onset = "gradual"
    summary = "supply temperature rises by several degrees on every CDU; GPU temperatures rise, clocks drift down"
    defaults = {"rise_celsius": 8.0, "ramp_seconds": 3600.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        rise = self.param(fault, "rise_celsius") * ramp(age_seconds, self.param(fault, "ramp_seconds"))
        ctx.effects.supply_offset_celsius += rise
