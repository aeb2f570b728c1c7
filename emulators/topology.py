"""Cluster topology: racks, nodes, GPUs, leaf switches, hot spares and the names the emulators publish under."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import yaml


@dataclass(frozen=True)
class Topology:
    """A cluster of identical racks. Each rack has one CDU and one PDU, each node one DPU.

    Nodes are numbered rack by rack. Every port of a node's DPU connects to the node's
    leaf switch, and each leaf switch serves ``nodes_per_leaf_switch`` consecutive nodes.
    The last ``spare_nodes`` nodes form the hot-spare pool; the training job runs on the
    others.
    """

    cluster: str = "default"
    racks: int = 2
    nodes_per_rack: int = 4
    gpus_per_node: int = 8
    ports_per_dpu: int = 2
    psus_per_rack: int = 6
    nodes_per_leaf_switch: int = 4
    spare_nodes: int = 0
    rack_names: tuple[str, ...] = field(init=False, repr=False)
    node_names: tuple[str, ...] = field(init=False, repr=False)
    switch_names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("racks", "nodes_per_rack", "gpus_per_node", "ports_per_dpu", "psus_per_rack", "nodes_per_leaf_switch"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"topology {name} must be at least 1, got {value}")
        if self.gpus_per_node > 64:
            raise ValueError(f"topology gpus_per_node must be at most 64, got {self.gpus_per_node}")
        if not 0 <= self.spare_nodes < self.racks * self.nodes_per_rack:
            raise ValueError(
                f"topology spare_nodes must be between 0 and {self.racks * self.nodes_per_rack - 1} "
                f"so that the job keeps one node, got {self.spare_nodes}"
            )
        rack_names = tuple(f"r{rack:03d}" for rack in range(self.racks))
        node_names = tuple(f"{rack}-n{node:02d}" for rack in rack_names for node in range(self.nodes_per_rack))
        switches = -(-len(node_names) // self.nodes_per_leaf_switch)
        object.__setattr__(self, "rack_names", rack_names)
        object.__setattr__(self, "node_names", node_names)
        object.__setattr__(self, "switch_names", tuple(f"leaf{switch:03d}" for switch in range(switches)))

    @property
    def node_count(self) -> int:
        """Number of nodes in the cluster, spares included."""
        return self.racks * self.nodes_per_rack

    @property
    def gpu_count(self) -> int:
        """Number of GPUs in the cluster, spares included."""
        return self.node_count * self.gpus_per_node

    @property
    def job_node_indices(self) -> list[int]:
        """Indices of the nodes that start in the training job."""
        return list(range(self.node_count - self.spare_nodes))

    @property
    def spare_node_indices(self) -> list[int]:
        """Indices of the nodes in the hot-spare pool at start."""
        return list(range(self.node_count - self.spare_nodes, self.node_count))

    @property
    def rack_of_node(self) -> np.ndarray:
        """Rack index of every node, shape (nodes,)."""
        return np.arange(self.node_count) // self.nodes_per_rack

    def rack_of(self, node_index: int) -> str:
        """Return the rack name of the node at ``node_index``."""
        return self.rack_names[node_index // self.nodes_per_rack]

    def switch_of(self, node_index: int) -> str:
        """Return the leaf switch name of the node at ``node_index``."""
        return self.switch_names[node_index // self.nodes_per_leaf_switch]

    def nodes_of_switch(self, switch_index: int) -> list[int]:
        """Return the indices of the nodes under one leaf switch."""
        first = switch_index * self.nodes_per_leaf_switch
        return list(range(first, min(first + self.nodes_per_leaf_switch, self.node_count)))

    def nodes_of_rack(self, rack_index: int) -> list[int]:
        """Return the indices of the nodes in one rack."""
        first = rack_index * self.nodes_per_rack
        return list(range(first, first + self.nodes_per_rack))

    def node_index(self, name: str) -> int:
        """Return the index of a node by name.

        Raises:
            ValueError: no node has that name.
        """
        return _index_of(self.node_names, name, "node")

    def rack_index(self, name: str) -> int:
        """Return the index of a rack by name.

        Raises:
            ValueError: no rack has that name.
        """
        return _index_of(self.rack_names, name, "rack")

    def switch_index(self, name: str) -> int:
        """Return the index of a leaf switch by name.

        Raises:
            ValueError: no leaf switch has that name.
        """
        return _index_of(self.switch_names, name, "leaf switch")


def _index_of(names: tuple[str, ...], name: str, what: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        shown = ", ".join(names[:3]) + (f" ... {names[-1]}" if len(names) > 3 else "")
        raise ValueError(f"unknown {what} {name!r}; this topology has {len(names)}: {shown}") from None


def load_topology(path: Path) -> Topology:
    """Read a topology from a YAML file whose keys are the fields of :class:`Topology`.

    Raises:
        ValueError: the file is not a YAML mapping, names an unknown key, or sets an invalid value.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML in topology file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"topology file {path} must contain a mapping of topology fields, got {type(data).__name__}")

    known = {item.name for item in fields(Topology) if item.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in topology file {path}; known keys: {sorted(known)}")
    for key, value in data.items():
        expected = str if key == "cluster" else int
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ValueError(f"topology file {path}: {key} must be {expected.__name__}, got {value!r}")
    try:
        return Topology(**data)
    except ValueError as exc:
        raise ValueError(f"topology file {path}: {exc}") from exc
