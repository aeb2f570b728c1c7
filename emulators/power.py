"""Rack power: one PDU and its power supplies per rack, with Redfish power property names."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from emulators.effects import HEALTH_CRITICAL, HEALTH_NAMES, HEALTH_OK, Effects
from emulators.job import JobActivity
from emulators.topology import Topology

# Host power besides the GPUs: CPUs, memory, NICs, fans (estimates).
HOST_IDLE_WATTS: Final = 1_000.0
HOST_BUSY_WATTS: Final = 1_800.0
NOMINAL_INPUT_VOLTS: Final = 415.0


def host_watts(activity: JobActivity, elapsed: float, effects: Effects) -> np.ndarray:
    """Return each node's host power besides its GPUs, zero for a node without power."""
    busy = np.clip((activity.compute + activity.comm + activity.wait) / elapsed, 0.0, 1.0)
    watts = HOST_IDLE_WATTS + (HOST_BUSY_WATTS - HOST_IDLE_WATTS) * busy
    return np.where(effects.node_down, 0.0, watts)


class PowerModel:
    """PDU readings of every rack."""

    def __init__(self, topology: Topology, rng: np.random.Generator) -> None:
        self.topology = topology
        self.rng = rng

    def rack_values(self, rack_watts: np.ndarray, limit_watts: np.ndarray, effects: Effects) -> list[dict[str, Any]]:
        """Return the fields of every rack's power message, without the envelope.

        Args:
            rack_watts: draw of each rack in W.
            limit_watts: each rack's power cap in W, NaN when uncapped.
            effects: the faults' changes to this sample.
        """
        topology = self.topology
        volts = NOMINAL_INPUT_VOLTS + effects.input_voltage_offset_volts + self.rng.normal(0.0, 1.5, topology.racks)
        values = []
        for rack in range(topology.racks):
            failed = effects.psu_failed[rack]
            working = max(int((~failed).sum()), 1)
            share = float(rack_watts[rack]) / working
            supplies = [
                {
                    "psu": f"psu{index}",
                    "health": HEALTH_NAMES[HEALTH_CRITICAL if failed[index] else HEALTH_OK],
                    "PowerOutputWatts": 0.0 if failed[index] else round(share, 1),
                    "InputVoltageVolts": round(float(volts[rack]), 1),
                }
                for index in range(topology.psus_per_rack)
            ]
            value: dict[str, Any] = {
                "PowerWatts": round(float(rack_watts[rack]), 1),
                "InputVoltageVolts": round(float(volts[rack]), 1),
                "power_supplies": supplies,
            }
            if not np.isnan(limit_watts[rack]):
                value["PowerLimitWatts"] = round(float(limit_watts[rack]), 1)
            values.append(value)
        return values
