"""Power faults: a failed power supply, a node without power, a rack held below its draw."""

from __future__ import annotations

from emulators.effects import JOB_CRASH
from emulators.faults.base import Fault, FaultContext, FaultKind, ramp


class PsuFailure(FaultKind):
    """One power supply of the rack fails; the others carry the load, so redundancy is lost but nothing stops."""

    name = "psu_failure"
    scope = "rack"
    onset = "instant"
    summary = "one PSU Critical with zero output, the others carry more; input voltage sags; a brief power brake on the rack's GPUs"
    defaults = {"psu": 0, "brake_seconds": 5.0}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.rack is not None
        ctx.emit(fault, "psu_fault", "warning", f"psu{self.param(fault, 'psu')} failed, redundancy lost", rack=fault.rack)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.rack is not None
        psu = int(self.param(fault, "psu"))
        if not 0 <= psu < ctx.topology.psus_per_rack:
            raise ValueError(f"psu_failure psu must be between 0 and {ctx.topology.psus_per_rack - 1}, got {psu}")
        ctx.effects.psu_failed[fault.rack, psu] = True
        ctx.effects.input_voltage_offset_volts[fault.rack] -= 4.0
        if age_seconds < self.param(fault, "brake_seconds"):
            # The remaining supplies assert the external power-brake signal while they take the load.
            for node in ctx.topology.nodes_of_rack(fault.rack):
                ctx.effects.power_brake[node] = True


class NodePowerLoss(FaultKind):
    """A node loses power: its GPU and DPU telemetry stops and the job crashes."""

    name = "node_power_loss"
    scope = "node"
    onset = "instant"
    summary = "the node's GPU and DPU messages stop, rack power drops by the node's draw; the job crashes"

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.node is not None
        ctx.emit(fault, "psu_fault", "critical", "node lost power", node=fault.node)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.node is not None
        ctx.effects.node_down[fault.node] = True
        ctx.effects.gpu_missing[fault.node, :] = True
        ctx.effects.port_down[fault.node, :] = True
        ctx.effects.set_job_fault(fault.node, JOB_CRASH)


class RackPowerCap(FaultKind):
    """The facility holds a rack below its draw: power-cap clock events on every GPU of the rack, a slight slowdown."""

    name = "rack_power_cap"
    scope = "rack"
    onset = "fast"
    summary = "rack PowerLimitWatts below its draw; every GPU in the rack at its lower enforced limit with power-cap clock events"
    defaults = {"limit_share": 0.8, "ramp_seconds": 10.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.rack is not None
        topology = ctx.topology
        design_watts = topology.nodes_per_rack * (topology.gpus_per_node * 700.0 + 1_800.0)
        share = 1.0 - (1.0 - self.param(fault, "limit_share")) * ramp(age_seconds, self.param(fault, "ramp_seconds"))
        ctx.effects.facility_power_limit_watts[fault.rack] = design_watts * share
