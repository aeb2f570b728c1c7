"""DPU model: one DPU per node with mlx5 port and RDMA counters (ethtool -S and hw_counters names).

Traffic follows the job's collectives: every collective moves a fixed number of bytes
over the node's ports, so a slower collective shows as a lower rate, not fewer bytes.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from emulators.effects import Effects
from emulators.job import JobActivity
from emulators.topology import Topology

PORT_BYTES_PER_SECOND: Final = 50e9
# Share of the port rate that one collective uses at nominal speed.
COLLECTIVE_LINK_SHARE: Final = 0.8
# Healthy background rates per port and second (estimates).
ECN_MARKED_PER_SECOND: Final = 20.0
CNP_SENT_PER_SECOND: Final = 5.0
PAUSE_FRAMES_PER_SECOND: Final = 0.5
PAUSE_MICROSECONDS_PER_FRAME: Final = 20.0
COUNTER_NAMES: Final = (
    "rx_bytes_phy",
    "tx_bytes_phy",
    "rx_discards_phy",
    "link_down_events_phy",
    "rx_prio3_pause",
    "tx_prio3_pause",
    "rx_prio3_pause_duration",
    "tx_prio3_pause_duration",
    "tx_pause_storm_warning_events",
    "tx_pause_storm_error_events",
    "out_of_sequence",
    "local_ack_timeout_err",
    "np_ecn_marked_roce_packets",
    "np_cnp_sent",
    "rp_cnp_handled",
)


class DpuModel:
    """Cumulative counters of every DPU port, shape (nodes, ports)."""

    def __init__(self, topology: Topology, rng: np.random.Generator, comm_seconds: float) -> None:
        self.topology = topology
        self.rng = rng
        shape = (topology.node_count, topology.ports_per_dpu)
        self.counters = {name: np.zeros(shape, dtype=np.int64) for name in COUNTER_NAMES}
        self.port_down = np.zeros(shape, dtype=bool)
        self.bytes_per_collective = PORT_BYTES_PER_SECOND * COLLECTIVE_LINK_SHARE * comm_seconds

    def update(self, activity: JobActivity, elapsed: float, effects: Effects) -> None:
        """Advance every port's counters by ``elapsed`` seconds."""
        counters = self.counters
        shape = self.port_down.shape
        up = ~effects.port_down
        load = np.clip((activity.comm + activity.compute) / elapsed, 0.0, 1.0)[:, None]
        poisson = self.rng.poisson

        traffic = activity.comm_phases[:, None] * self.bytes_per_collective * effects.traffic_factor * up
        traffic = traffic * (1.0 + self.rng.normal(0.0, 0.02, shape))
        counters["rx_bytes_phy"] += np.clip(traffic, 0.0, None).astype(np.int64)
        counters["tx_bytes_phy"] += np.clip(traffic, 0.0, None).astype(np.int64)
        counters["link_down_events_phy"] += (effects.port_down & ~self.port_down).astype(np.int64)
        self.port_down = effects.port_down.copy()

        tx_pause = poisson((PAUSE_FRAMES_PER_SECOND * load + effects.tx_pause_per_second) * elapsed * up)
        rx_pause = poisson((PAUSE_FRAMES_PER_SECOND * load + effects.rx_pause_per_second) * elapsed * up)
        counters["tx_prio3_pause"] += tx_pause
        counters["rx_prio3_pause"] += rx_pause
        counters["tx_prio3_pause_duration"] += (tx_pause * PAUSE_MICROSECONDS_PER_FRAME).astype(np.int64)
        counters["rx_prio3_pause_duration"] += (rx_pause * PAUSE_MICROSECONDS_PER_FRAME).astype(np.int64)
        counters["tx_pause_storm_warning_events"] += poisson(effects.pause_storm_warning_per_second * elapsed)
        counters["tx_pause_storm_error_events"] += poisson(effects.pause_storm_error_per_second * elapsed)

        ecn = poisson(ECN_MARKED_PER_SECOND * load * effects.ecn_factor * elapsed * up)
        cnp = poisson(CNP_SENT_PER_SECOND * load * effects.ecn_factor * elapsed * up)
        counters["np_ecn_marked_roce_packets"] += ecn
        counters["np_cnp_sent"] += cnp
        counters["rp_cnp_handled"] += cnp
        counters["out_of_sequence"] += poisson(effects.out_of_sequence_per_second * elapsed)
        counters["local_ack_timeout_err"] += poisson(effects.ack_timeout_per_second * elapsed)
        counters["rx_discards_phy"] += poisson(effects.rx_discards_per_second * elapsed)

    def node_values(self) -> list[list[dict[str, Any]]]:
        """Return the ``ports`` list of every node's DPU message."""
        names = list(self.counters)
        columns = [self.counters[name].tolist() for name in names]
        down = self.port_down.tolist()
        nodes = []
        for node in range(self.topology.node_count):
            ports = []
            for port in range(self.topology.ports_per_dpu):
                value: dict[str, Any] = {"port": port, "link_state": "down" if down[node][port] else "up"}
                value.update(zip(names, (column[node][port] for column in columns)))
                ports.append(value)
            nodes.append(ports)
        return nodes
