"""Host, software, data and planned faults: what hits the job without a hardware signal of its own."""

from __future__ import annotations

from emulators.effects import JOB_CRASH, JOB_HANG
from emulators.faults.base import Fault, FaultContext, FaultKind


class HostFault(FaultKind):
    """A host fault (CPU, memory, disk, kernel): a kernel panic silences the node, a hung task hangs the job."""

    name = "host_fault"
    scope = "node"
    onset = "instant"
    summary = "mode 'panic': the node's messages stop and the job crashes; mode 'hang': telemetry goes on, the job hangs"
    defaults = {"mode": "panic"}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node = fault.node
        assert node is not None
        mode = self.param(fault, "mode")
        if mode == "panic":
            ctx.effects.node_down[node] = True
            ctx.effects.gpu_missing[node, :] = True
            ctx.effects.port_down[node, :] = True
            ctx.effects.set_job_fault(node, JOB_CRASH)
        elif mode == "hang":
            ctx.effects.set_job_fault(node, JOB_HANG)
        else:
            raise ValueError(f"host_fault mode must be 'panic' or 'hang', got {mode!r}")


class SoftwareHang(FaultKind):
    """A software or NCCL hang on every rank without a hardware cause; a restart clears it."""

    name = "software_hang"
    scope = "job"
    onset = "instant"
    summary = "every rank stops at once, RDMA traffic drops to zero on all nodes, no outlier node; cleared by a restart"
    ends_on_restart = True

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        for node in ctx.job.members:
            ctx.effects.set_job_fault(node, JOB_HANG)


class SoftwareCrash(FaultKind):
    """An application bug: Xid 13 on every GPU of the job at once, then the job exits; a restart clears it."""

    name = "software_crash"
    scope = "job"
    onset = "instant"
    summary = "Xid 13 on every GPU of every rank at the same time; the job crashes; cleared by a restart"
    ends_on_restart = True

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        for node in ctx.job.members:
            for gpu in range(ctx.topology.gpus_per_node):
                ctx.xid(fault, node, gpu, 13, "graphics engine exception", severity="warning")

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        if fault.once("crash"):
            for node in ctx.job.members:
                ctx.effects.set_job_fault(node, JOB_CRASH)


class SilentDataCorruption(FaultKind):
    """A node computes wrong results without any error; only the training loss shows it.

    The node's local loss (``JobProgress.loss`` of its rank) rises ``loss_factor`` times
    above its peers' while the fault lasts; no hardware counter moves.
    """

    name = "silent_data_corruption"
    scope = "node"
    onset = "instant"
    summary = "no hardware signal; the node's local training loss spikes above its peers'"
    ends_on_restart = True
    defaults = {"loss_factor": 3.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.node is not None
        ctx.effects.loss_factor[fault.node] *= self.param(fault, "loss_factor")


class PlannedMaintenance(FaultKind):
    """A node is drained for maintenance: the job checkpoints, swaps in a spare (or shrinks), and the node idles."""

    name = "planned_maintenance"
    scope = "node"
    onset = "instant"
    summary = "the job checkpoints and moves off the node, which then idles; no error signal"
    default_duration_seconds = 3600.0

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        node = fault.node
        assert node is not None
        job = ctx.job
        job.cordon(node)
        if node not in job.members:
            return
        if job.swap(node) is None and len(job.members) > 1:
            job.exclude(node)

    def finish(self, fault: Fault, ctx: FaultContext) -> None:
        assert fault.node is not None
        ctx.job.uncordon(fault.node)
