"""GPU faults: falling off the bus, hard faults, memory errors, NVLink, PCIe, GSP, thermal, stragglers.

Xid codes, their meaning and the counters that move follow NVIDIA's Xid catalog and the
DCGM health-watch rules.
"""

from __future__ import annotations

from emulators.effects import JOB_CRASH, JOB_HANG
from emulators.faults.base import Fault, FaultContext, FaultKind, ramp


def _place(fault: Fault) -> tuple[int, int]:
    assert fault.node is not None and fault.gpu is not None
    return fault.node, fault.gpu


class GpuFellOffBus(FaultKind):
    """Xid 79: PCIe replays, then the GPU drops off the bus and its fields go blank."""

    name = "gpu_fell_off_bus"
    scope = "gpu"
    onset = "instant"
    summary = "PCIe replays, then Xid 79; the GPU's DCGM fields go blank and the job crashes"
    defaults = {"precursor_seconds": 20.0, "replays_per_second": 2.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        if age_seconds < self.param(fault, "precursor_seconds"):
            ctx.effects.pcie_replay_per_second[node, gpu] += self.param(fault, "replays_per_second")
            if fault.once("pcie"):
                ctx.emit(fault, "pcie_error", "warning", "PCIe replay rate above the link's limit", node=node, gpu=gpu)
            return
        if fault.once("fell"):
            ctx.xid(fault, node, gpu, 79, "GPU has fallen off the bus")
            ctx.emit(fault, "gpu_missing", "critical", "GPU no longer answers on PCIe", node=node, gpu=gpu)
        ctx.effects.gpu_missing[node, gpu] = True
        ctx.effects.set_job_fault(node, JOB_CRASH)


class GpuHardFault(FaultKind):
    """Xid 46, 62 or 109: the GPU stops processing and needs a reset."""

    name = "gpu_hard_fault"
    scope = "gpu"
    onset = "instant"
    summary = "Xid 46, 62 or 109; the GPU stops processing and the job crashes"
    defaults = {"xid": 46}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        code = int(self.param(fault, "xid"))
        if code not in (46, 62, 109):
            raise ValueError(f"gpu_hard_fault xid must be 46, 62 or 109, got {code}")
        ctx.xid(fault, node, gpu, code, "GPU stopped processing")

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        ctx.effects.gpu_stalled[node, gpu] = True
        ctx.effects.set_job_fault(node, JOB_CRASH)


class HbmUncorrectable(FaultKind):
    """Xid 48 from HBM: a double-bit error, a pending row remap, and a contained or uncontained error.

    A contained error (Xid 94) kills the process and leaves the GPU usable; an uncontained
    one (Xid 95) leaves the GPU unusable until reset. With ``remap_failed`` the remap
    spares are exhausted (Xid 64, ``DCGM_FI_DEV_ROW_REMAP_FAILURE``).
    """

    name = "hbm_uncorrectable"
    scope = "gpu"
    onset = "instant"
    summary = "Xid 48, 63 and 94 or 95; DBE and uncorrectable remapped rows rise; the job crashes"
    defaults = {"contained": True, "remap_failed": False}
    remaps_rows = True

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        counters = ctx.gpu_counters
        counters["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"][node, gpu] += 1
        ctx.xid(fault, node, gpu, 48, "double-bit ECC error")
        ctx.emit(fault, "ecc_dbe", "critical", "uncorrectable ECC error", node=node, gpu=gpu)
        if self.remaps_rows:
            counters["DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"][node, gpu] += 1
            ctx.xid(fault, node, gpu, 63, "row remapping pending, reset the GPU to apply it", severity="warning")
        if self.param(fault, "contained"):
            ctx.xid(fault, node, gpu, 94, "contained uncorrectable memory error")
        else:
            ctx.xid(fault, node, gpu, 95, "uncontained uncorrectable memory error")
        if self.remaps_rows and self.param(fault, "remap_failed"):
            counters["DCGM_FI_DEV_ROW_REMAP_FAILURE"][node, gpu] = 1
            ctx.xid(fault, node, gpu, 64, "row remapping failed, spare rows exhausted")
            ctx.emit(fault, "row_remap_failure", "critical", "row remapping failed", node=node, gpu=gpu)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        unusable = not self.param(fault, "contained") or self.param(fault, "remap_failed")
        if unusable:
            ctx.effects.gpu_stalled[node, gpu] = True
        if unusable or fault.once("crash"):
            ctx.effects.set_job_fault(node, JOB_CRASH)


class GpuSramUncorrectable(HbmUncorrectable):
    """Xid 48 from on-chip SRAM: a double-bit error without a row remap."""

    name = "gpu_sram_uncorrectable"
    summary = "Xid 48 and 94 or 95 without a row remap; DBE rises; the job crashes"
    defaults = {"contained": True, "remap_failed": False}
    remaps_rows = False


class EccSbeStorm(FaultKind):
    """Correctable ECC errors that rise for hours, with Xid 92 and creeping row remaps."""

    name = "ecc_sbe_storm"
    scope = "gpu"
    onset = "gradual"
    summary = "SBE rate climbs, Xid 92 repeats, correctable remapped rows creep up, a slight slowdown"
    default_duration_seconds = 6 * 3600.0
    defaults = {"ramp_seconds": 3600.0, "peak_sbe_per_second": 5.0, "xid92_every_seconds": 600.0, "remap_every_seconds": 1800.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        level = ramp(age_seconds, self.param(fault, "ramp_seconds"))
        ctx.effects.sbe_per_second[node, gpu] += 0.05 + level * self.param(fault, "peak_sbe_per_second")
        ctx.effects.compute_factor[node] *= 1.0 - 0.01 * level

        xid_slot = int(age_seconds // self.param(fault, "xid92_every_seconds"))
        if fault.state.get("xid_slot") != xid_slot:
            fault.state["xid_slot"] = xid_slot
            ctx.xid(fault, node, gpu, 92, "high single-bit ECC error rate", severity="warning")
            ctx.emit(fault, "ecc_sbe", "warning", "correctable ECC errors rising", node=node, gpu=gpu)
        remap_slot = int(age_seconds // self.param(fault, "remap_every_seconds"))
        if fault.state.get("remap_slot", 0) != remap_slot:
            fault.state["remap_slot"] = remap_slot
            ctx.gpu_counters["DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS"][node, gpu] += 1


class NvlinkFault(FaultKind):
    """Xid 74: NVLink CRC, replay and recovery errors; collectives stall until the NCCL timeout."""

    name = "nvlink_fault"
    scope = "gpu"
    onset = "instant"
    summary = "Xid 74; NVLink CRC at 150/s, replay and recovery errors, bandwidth down; the job hangs"
    defaults = {"crc_per_second": 150.0, "replay_per_second": 0.5, "recovery_per_second": 0.1, "bandwidth_factor": 0.3}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        ctx.xid(fault, node, gpu, 74, "NVLink error")
        ctx.emit(fault, "nvlink_error", "critical", "NVLink replay and recovery errors", node=node, gpu=gpu)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        effects = ctx.effects
        effects.nvlink_crc_per_second[node, gpu] += self.param(fault, "crc_per_second")
        effects.nvlink_replay_per_second[node, gpu] += self.param(fault, "replay_per_second")
        effects.nvlink_recovery_per_second[node, gpu] += self.param(fault, "recovery_per_second")
        effects.nvlink_bandwidth_factor[node, :] *= self.param(fault, "bandwidth_factor")
        effects.set_job_fault(node, JOB_HANG)


class PcieDegradation(FaultKind):
    """A PCIe link trained down (generation or width) with replays above the DCGM limit: a silent straggler."""

    name = "pcie_degradation"
    scope = "gpu"
    onset = "gradual"
    summary = "PCIe link gen or width below 5 x16, replays above 31/min; the node slows its peers"
    defaults = {"link_gen": 3, "link_width": 16, "replays_per_second": 1.0, "comm_factor": 0.7, "compute_factor": 0.95}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        ctx.emit(fault, "pcie_error", "warning", "PCIe link degraded", node=node, gpu=gpu)

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        effects = ctx.effects
        effects.pcie_link_gen[node, gpu] = self.param(fault, "link_gen")
        effects.pcie_link_width[node, gpu] = self.param(fault, "link_width")
        effects.pcie_replay_per_second[node, gpu] += self.param(fault, "replays_per_second")
        effects.comm_factor[node] *= self.param(fault, "comm_factor")
        effects.compute_factor[node] *= self.param(fault, "compute_factor")


class GspHang(FaultKind):
    """Xid 119 or 120: the GPU System Processor stops responding; field queries fail, power freezes, the job hangs."""

    name = "gsp_hang"
    scope = "gpu"
    onset = "instant"
    summary = "Xid 119 or 120; every field of the GPU goes blank except its power, which freezes; the job hangs"
    defaults = {"xid": 119}

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        code = int(self.param(fault, "xid"))
        if code not in (119, 120):
            raise ValueError(f"gsp_hang xid must be 119 or 120, got {code}")
        ctx.xid(fault, node, gpu, code, "GSP RPC timeout" if code == 119 else "GSP error")

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        ctx.effects.gpu_frozen[node, gpu] = True
        ctx.effects.set_job_fault(node, JOB_HANG)


class GpuThermal(FaultKind):
    """A bad thermal interface on one GPU: it alone runs hot at normal coolant conditions and throttles."""

    name = "gpu_thermal"
    scope = "gpu"
    onset = "fast"
    summary = "one GPU near its slowdown temperature, thermal clock events, SM clock and power down"
    defaults = {"resistance_factor": 2.1, "ramp_seconds": 60.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        node, gpu = _place(fault)
        level = ramp(age_seconds, self.param(fault, "ramp_seconds"))
        ctx.effects.thermal_resistance_factor[node, gpu] *= 1.0 + (self.param(fault, "resistance_factor") - 1.0) * level


class Straggler(FaultKind):
    """A node whose GPUs run at lower clocks than their peers: about 10 % slower, with less power."""

    name = "straggler"
    scope = "node"
    onset = "gradual"
    summary = "one node's clocks about 10 % low, with lower power and tensor activity; the job's steps slow"
    defaults = {"slowdown": 0.1, "ramp_seconds": 60.0}

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        assert fault.node is not None
        level = ramp(age_seconds, self.param(fault, "ramp_seconds"))
        limit = 1.0 - self.param(fault, "slowdown") * level
        ctx.effects.clock_limit[fault.node, :] = limit
