"""Every fault kind the emulator can inject, by name."""

from __future__ import annotations

from typing import Final

from emulators.faults.base import FaultKind
from emulators.faults.cooling_kinds import CduPumpFailure, CoolantLeak, FacilityWaterWarm
from emulators.faults.gpu_kinds import (
    EccSbeStorm,
    GpuFellOffBus,
    GpuHardFault,
    GpuSramUncorrectable,
    GpuThermal,
    GspHang,
    HbmUncorrectable,
    NvlinkFault,
    PcieDegradation,
    Straggler,
)
from emulators.faults.host_kinds import HostFault, PlannedMaintenance, SilentDataCorruption, SoftwareCrash, SoftwareHang
from emulators.faults.network_kinds import LinkFlap, NetworkCongestion, PfcPauseStorm, SwitchFailure
from emulators.faults.power_kinds import NodePowerLoss, PsuFailure, RackPowerCap

_KINDS: Final[tuple[type[FaultKind], ...]] = (
    GpuFellOffBus,
    GpuHardFault,
    HbmUncorrectable,
    GpuSramUncorrectable,
    EccSbeStorm,
    NvlinkFault,
    PcieDegradation,
    GspHang,
    GpuThermal,
    CduPumpFailure,
    CoolantLeak,
    FacilityWaterWarm,
    LinkFlap,
    PfcPauseStorm,
    NetworkCongestion,
    SwitchFailure,
    PsuFailure,
    NodePowerLoss,
    RackPowerCap,
    HostFault,
    SoftwareHang,
    SoftwareCrash,
    SilentDataCorruption,
    Straggler,
    PlannedMaintenance,
)

CATALOG: Final[dict[str, FaultKind]] = {kind.name: kind() for kind in _KINDS}


def fault_kind(name: str) -> FaultKind:
    """Return the fault kind called ``name``.

    Raises:
        ValueError: no kind has that name.
    """
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(f"unknown fault kind {name!r}; known kinds: {', '.join(sorted(CATALOG))}") from None
