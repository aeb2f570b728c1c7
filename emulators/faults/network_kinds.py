"""Network faults: link flaps, PFC pause storms, congestion and leaf-switch failures (mlx5 counters)."""

from __future__ import annotations

from emulators.effects import JOB_HANG
from emulators.faults.base import Fault, FaultContext, FaultKind


class LinkFlap(FaultKind):
    """One DPU port goes down for seconds and comes back; the job stalls while it is down."""

    name = "link_flap"
    scope = "node"
    onset = "instant"
    summary = "link_down_events_phy rises, the port is down and its traffic stops; the job stalls until the link is back"
    default_duration_seconds = 6.0
    defaults = {"port": 0}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.node is not None
        port = int(self.param(fault, "port"))
        if not 0 <= port < ctx.topology.ports_per_dpu:
            raise ValueError(f"link_flap port must be between 0 and {ctx.topology.ports_per_dpu - 1}, got {port}")
        ctx.emit(fault, "link_down", "warning", f"port {port} lost carrier", node=fault.node)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.node is not None
        port = int(self.param(fault, "port"))
        ctx.effects.port_down[fault.node, port] = True
        ctx.effects.set_job_fault(fault.node, JOB_HANG)

    def finish(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.node is not None
        ctx.emit(fault, "link_up", "info", f"port {self.param(fault, 'port')} link up", node=fault.node)


class PfcPauseStorm(FaultKind):
    """A NIC floods PFC pause frames: its and its switch peers' traffic collapses and the whole job's collectives slow."""

    name = "pfc_pause_storm"
    scope = "node"
    onset = "fast"
    summary = "tx pause frames and duration soar, storm warning and error events, peers receive pauses; collectives slow for the whole job"
    default_duration_seconds = 900.0
    defaults = {"tx_pause_per_second": 20_000.0, "peer_rx_pause_per_second": 5_000.0, "job_comm_factor": 0.35, "error_after_seconds": 60.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node = fault.node
        assert node is not None
        effects = ctx.effects
        effects.tx_pause_per_second[node, :] += self.param(fault, "tx_pause_per_second")
        effects.pause_storm_warning_per_second[node, :] += 0.2
        if age_seconds >= self.param(fault, "error_after_seconds"):
            effects.pause_storm_error_per_second[node, :] += 0.02
        effects.traffic_factor[node, :] *= 0.3

        peers = ctx.topology.nodes_of_switch(node // ctx.topology.nodes_per_leaf_switch)
        for peer in peers:
            if peer != node:
                effects.rx_pause_per_second[peer, :] += self.param(fault, "peer_rx_pause_per_second")
                effects.traffic_factor[peer, :] *= 0.6
        effects.job_comm_factor *= self.param(fault, "job_comm_factor")


class NetworkCongestion(FaultKind):
    """ECMP collisions under one leaf switch: ECN marks, CNPs, out-of-sequence packets and timeouts; collectives slow."""

    name = "network_congestion"
    scope = "switch"
    onset = "fast"
    summary = "ECN marks and CNPs soar, out_of_sequence and local_ack_timeout_err rise under one switch; collectives slow"
    default_duration_seconds = 1440.0
    defaults = {"ecn_factor": 40.0, "out_of_sequence_per_second": 50.0, "ack_timeout_per_second": 0.5, "job_comm_factor": 0.6}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.switch is not None
        effects = ctx.effects
        for node in ctx.topology.nodes_of_switch(fault.switch):
            effects.ecn_factor[node, :] *= self.param(fault, "ecn_factor")
            effects.out_of_sequence_per_second[node, :] += self.param(fault, "out_of_sequence_per_second")
            effects.ack_timeout_per_second[node, :] += self.param(fault, "ack_timeout_per_second")
            effects.rx_discards_per_second[node, :] += 5.0
        effects.job_comm_factor *= self.param(fault, "job_comm_factor")


class SwitchFailure(FaultKind):
    """A leaf switch fails: every port under it goes down together and the job hangs."""

    name = "switch_failure"
    scope = "switch"
    onset = "instant"
    summary = "every node under one switch loses every link at once; the job hangs until the NCCL timeout"

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.switch is not None
        for node in ctx.topology.nodes_of_switch(fault.switch):
            ctx.emit(fault, "link_down", "critical", f"all ports lost carrier, switch {ctx.topology.switch_names[fault.switch]}", node=node)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.switch is not None
        for node in ctx.topology.nodes_of_switch(fault.switch):
            ctx.effects.port_down[node, :] = True
            ctx.effects.set_job_fault(node, JOB_HANG)

    def finish(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.switch is not None
        for node in ctx.topology.nodes_of_switch(fault.switch):
            ctx.emit(fault, "link_up", "info", "all ports link up", node=node)
