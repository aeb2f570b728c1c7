"""Fault effects on one sample: what active faults change in the healthy cluster model.

The fault injector builds a fresh :class:`Effects` for every sample, and each active fault
writes into it. The device models and the training job read it. Arrays are indexed by
node, (node, GPU), (node, port), rack or (rack, PSU). Rates are per second of event time
and are added to the healthy model's own rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np

from emulators.topology import Topology

JOB_OK: Final = 0
JOB_HANG: Final = 1
JOB_CRASH: Final = 2

HEALTH_OK: Final = 0
HEALTH_WARNING: Final = 1
HEALTH_CRITICAL: Final = 2
HEALTH_NAMES: Final = ("OK", "Warning", "Critical")


def _full(shape: tuple[int, ...], value: float, dtype: type = np.float64) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


@dataclass
class Effects:
    """Changes to the healthy model that the active faults cause in one sample."""

    topology: Topology

    # Per GPU, shape (nodes, gpus).
    gpu_missing: np.ndarray = field(init=False)
    gpu_frozen: np.ndarray = field(init=False)
    gpu_stalled: np.ndarray = field(init=False)
    thermal_resistance_factor: np.ndarray = field(init=False)
    sbe_per_second: np.ndarray = field(init=False)
    nvlink_crc_per_second: np.ndarray = field(init=False)
    nvlink_replay_per_second: np.ndarray = field(init=False)
    nvlink_recovery_per_second: np.ndarray = field(init=False)
    nvlink_bandwidth_factor: np.ndarray = field(init=False)
    pcie_replay_per_second: np.ndarray = field(init=False)
    pcie_link_gen: np.ndarray = field(init=False)
    pcie_link_width: np.ndarray = field(init=False)
    clock_limit: np.ndarray = field(init=False)

    # Per node, shape (nodes,).
    node_down: np.ndarray = field(init=False)
    compute_factor: np.ndarray = field(init=False)
    comm_factor: np.ndarray = field(init=False)
    job_fault: np.ndarray = field(init=False)
    power_brake: np.ndarray = field(init=False)
    # Factor on each node's local training loss; silent data corruption raises it.
    loss_factor: np.ndarray = field(init=False)

    # Per DPU port, shape (nodes, ports).
    port_down: np.ndarray = field(init=False)
    traffic_factor: np.ndarray = field(init=False)
    tx_pause_per_second: np.ndarray = field(init=False)
    rx_pause_per_second: np.ndarray = field(init=False)
    pause_storm_warning_per_second: np.ndarray = field(init=False)
    pause_storm_error_per_second: np.ndarray = field(init=False)
    ecn_factor: np.ndarray = field(init=False)
    out_of_sequence_per_second: np.ndarray = field(init=False)
    ack_timeout_per_second: np.ndarray = field(init=False)
    rx_discards_per_second: np.ndarray = field(init=False)

    # Per rack, shape (racks,) or (racks, psus).
    flow_factor: np.ndarray = field(init=False)
    pump_health: np.ndarray = field(init=False)
    pump_speed_percent: np.ndarray = field(init=False)
    leak_state: np.ndarray = field(init=False)
    pressure_drop_kpa: np.ndarray = field(init=False)
    supply_offset_celsius: np.ndarray = field(init=False)
    psu_failed: np.ndarray = field(init=False)
    input_voltage_offset_volts: np.ndarray = field(init=False)
    facility_power_limit_watts: np.ndarray = field(init=False)

    # Whole job.
    job_comm_factor: float = 1.0

    def __post_init__(self) -> None:
        topology = self.topology
        self._init_gpus((topology.node_count, topology.gpus_per_node))
        self._init_nodes((topology.node_count,))
        self._init_ports((topology.node_count, topology.ports_per_dpu))
        self._init_racks((topology.racks,), (topology.racks, topology.psus_per_rack))

    def _init_gpus(self, gpus: tuple[int, ...]) -> None:
        self.gpu_missing = _full(gpus, False, bool)
        self.gpu_frozen = _full(gpus, False, bool)
        self.gpu_stalled = _full(gpus, False, bool)
        self.thermal_resistance_factor = _full(gpus, 1.0)
        self.sbe_per_second = _full(gpus, 0.0)
        self.nvlink_crc_per_second = _full(gpus, 0.0)
        self.nvlink_replay_per_second = _full(gpus, 0.0)
        self.nvlink_recovery_per_second = _full(gpus, 0.0)
        self.nvlink_bandwidth_factor = _full(gpus, 1.0)
        self.pcie_replay_per_second = _full(gpus, 0.0)
        self.pcie_link_gen = _full(gpus, 5, np.int64)
        self.pcie_link_width = _full(gpus, 16, np.int64)
        self.clock_limit = _full(gpus, 1.0)

    def _init_nodes(self, nodes: tuple[int, ...]) -> None:
        self.node_down = _full(nodes, False, bool)
        self.compute_factor = _full(nodes, 1.0)
        self.comm_factor = _full(nodes, 1.0)
        self.job_fault = _full(nodes, JOB_OK, np.int8)
        self.power_brake = _full(nodes, False, bool)
        self.loss_factor = _full(nodes, 1.0)

    def _init_ports(self, ports: tuple[int, ...]) -> None:
        self.port_down = _full(ports, False, bool)
        self.traffic_factor = _full(ports, 1.0)
        self.tx_pause_per_second = _full(ports, 0.0)
        self.rx_pause_per_second = _full(ports, 0.0)
        self.pause_storm_warning_per_second = _full(ports, 0.0)
        self.pause_storm_error_per_second = _full(ports, 0.0)
        self.ecn_factor = _full(ports, 1.0)
        self.out_of_sequence_per_second = _full(ports, 0.0)
        self.ack_timeout_per_second = _full(ports, 0.0)
        self.rx_discards_per_second = _full(ports, 0.0)

    def _init_racks(self, racks: tuple[int, ...], psus: tuple[int, ...]) -> None:
        self.flow_factor = _full(racks, 1.0)
        self.pump_health = _full(racks, HEALTH_OK, np.int8)
        self.pump_speed_percent = _full(racks, np.nan)
        self.leak_state = _full(racks, HEALTH_OK, np.int8)
        self.pressure_drop_kpa = _full(racks, 0.0)
        self.supply_offset_celsius = _full(racks, 0.0)
        self.psu_failed = _full(psus, False, bool)
        self.input_voltage_offset_volts = _full(racks, 0.0)
        self.facility_power_limit_watts = _full(racks, np.nan)

    def set_job_fault(self, node: int, state: int) -> None:
        """Raise the job fault state of ``node`` to ``state``; a crash outranks a hang."""
        self.job_fault[node] = max(int(self.job_fault[node]), state)
