"""Coolant distribution units (CDUs): one per rack, with Redfish CoolingUnit and CoolantConnector names.

The return temperature follows the rack's heat load and the flow with a first-order
lag; the GPUs see the mean of supply and return temperature at their cold plates.
Pressures follow the flow through the loop.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from emulators.effects import HEALTH_NAMES, Effects
from emulators.topology import Topology

# Heat capacity of water, kJ per litre and kelvin.
WATER_KJ_PER_LITRE_KELVIN: Final = 4.18
# Design flow: 1.5 L/min per kW of rack heat (OCP guidance for liquid-cooled racks).
FLOW_LITRES_PER_MINUTE_PER_KW: Final = 1.5
LOOP_TIME_CONSTANT_SECONDS: Final = 30.0
RETURN_PRESSURE_KPA: Final = 180.0
# Pressure the pumps add at design flow; it falls with the square of the flow.
PUMP_HEAD_KPA: Final = 120.0
PUMP_SPEED_PERCENT: Final = 65.0


class CoolingModel:
    """State of every rack's coolant loop."""

    def __init__(self, topology: Topology, rng: np.random.Generator, design_kw_per_rack: float, supply_celsius: float) -> None:
        self.topology = topology
        self.rng = rng
        self.design_flow = design_kw_per_rack * FLOW_LITRES_PER_MINUTE_PER_KW
        self.supply = np.full(topology.racks, supply_celsius)
        self.return_temp = np.full(topology.racks, supply_celsius)
        self.flow = np.full(topology.racks, self.design_flow)
        self.heat_kw = np.zeros(topology.racks)

    def coolant_at_nodes(self) -> np.ndarray:
        """Return the mean coolant temperature at each node's cold plates, shape (nodes,)."""
        return ((self.supply + self.return_temp) / 2)[self.topology.rack_of_node]

    def flow_factor_at_nodes(self) -> np.ndarray:
        """Return each node's coolant flow relative to design, shape (nodes,)."""
        return (self.flow / self.design_flow)[self.topology.rack_of_node]

    def update(self, heat_kw: np.ndarray, elapsed: float, facility_supply_celsius: float, effects: Effects) -> None:
        """Advance every loop by ``elapsed`` seconds with this interval's rack heat in kW."""
        racks = self.topology.racks
        self.supply = facility_supply_celsius + effects.supply_offset_celsius + self.rng.normal(0.0, 0.1, racks)
        flow_factor = np.clip(effects.flow_factor, 0.0, None)
        self.flow = np.clip(self.design_flow * flow_factor * (1.0 + self.rng.normal(0.0, 0.01, racks)), 0.0, None)
        rise = heat_kw / (np.maximum(self.flow, 0.5) / 60 * WATER_KJ_PER_LITRE_KELVIN)
        blend = 1.0 - math.exp(-elapsed / LOOP_TIME_CONSTANT_SECONDS)
        self.return_temp = self.return_temp + (self.supply + rise - self.return_temp) * blend
        self.heat_kw = heat_kw

    def rack_values(self, effects: Effects) -> list[dict[str, Any]]:
        """Return the fields of every rack's cooling message, without the envelope."""
        racks = self.topology.racks
        flow_factor = self.flow / self.design_flow
        return_pressure = RETURN_PRESSURE_KPA - effects.pressure_drop_kpa + self.rng.normal(0.0, 2.0, racks)
        supply_pressure = return_pressure + PUMP_HEAD_KPA * flow_factor**2 + self.rng.normal(0.0, 2.0, racks)
        heat_removed = self.flow / 60 * WATER_KJ_PER_LITRE_KELVIN * np.clip(self.return_temp - self.supply, 0.0, None)
        pump_speed = np.where(np.isnan(effects.pump_speed_percent), PUMP_SPEED_PERCENT, effects.pump_speed_percent)

        values = []
        for rack in range(racks):
            values.append({
                "SupplyTemperatureCelsius": round(float(self.supply[rack]), 2),
                "ReturnTemperatureCelsius": round(float(self.return_temp[rack]), 2),
                "FlowLitersPerMinute": round(float(self.flow[rack]), 2),
                "SupplyPressurekPa": round(max(float(supply_pressure[rack]), 0.0), 1),
                "ReturnPressurekPa": round(max(float(return_pressure[rack]), 0.0), 1),
                "HeatRemovedkW": round(float(heat_removed[rack]), 2),
                "PumpSpeedPercent": round(float(pump_speed[rack]), 1),
                "PumpHealth": HEALTH_NAMES[int(effects.pump_health[rack])],
                "LeakDetectorState": HEALTH_NAMES[int(effects.leak_state[rack])],
            })
        return values
