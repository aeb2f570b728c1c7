"""Cluster topology: racks, nodes, GPUs and the names the emulators publish under."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topology:
    """A cluster of identical racks. Each rack has one CDU and one PDU, each node one DPU."""

    cluster: str = "default"
    racks: int = 2
    nodes_per_rack: int = 4
    gpus_per_node: int = 8
    ports_per_dpu: int = 2
    psus_per_rack: int = 6
    rack_names: tuple[str, ...] = field(init=False, repr=False)
    node_names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("racks", "nodes_per_rack", "gpus_per_node", "ports_per_dpu", "psus_per_rack"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"topology {name} must be at least 1, got {value}")
        if self.gpus_per_node > 64:
            raise ValueError(f"topology gpus_per_node must be at most 64, got {self.gpus_per_node}")
        rack_names = tuple(f"r{rack:03d}" for rack in range(self.racks))
        node_names = tuple(f"{rack}-n{node:02d}" for rack in rack_names for node in range(self.nodes_per_rack))
        object.__setattr__(self, "rack_names", rack_names)
        object.__setattr__(self, "node_names", node_names)

    @property
    def node_count(self) -> int:
        """Number of nodes in the cluster."""
        return self.racks * self.nodes_per_rack

    @property
    def gpu_count(self) -> int:
        """Number of GPUs in the cluster."""
        return self.node_count * self.gpus_per_node

    def rack_of(self, node_index: int) -> str:
        """Return the rack name of the node at ``node_index``."""
        return self.rack_names[node_index // self.nodes_per_rack]
