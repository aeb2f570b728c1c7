"""Topology the correlator and the policy need: rack, leaf switch and jobs of each node, and the spares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClusterMap:
    """Rack, leaf switch and jobs of each node, and the hot-spare pool.

    Attributes:
        node_rack: Rack of every node. Its keys are the cluster's nodes, spares included.
        node_switch: Leaf switch of every node; nodes without an entry have no known switch.
        job_nodes: Nodes of every running job.
        spares: Nodes of the hot-spare pool, in the order the policy takes them.
    """

    node_rack: Mapping[str, str]
    node_switch: Mapping[str, str] = field(default_factory=dict)
    job_nodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    spares: tuple[str, ...] = ()
    _node_jobs: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted({node for nodes in self.job_nodes.values() for node in nodes} - set(self.node_rack))
        unknown += sorted(set(self.spares) - set(self.node_rack))
        if unknown:
            raise ValueError(f"nodes {unknown[:5]} of a job or the spare pool have no rack in node_rack; add them to node_rack")

        node_jobs: dict[str, list[str]] = {}
        for job in sorted(self.job_nodes):
            for node in self.job_nodes[job]:
                node_jobs.setdefault(node, []).append(job)
        object.__setattr__(self, "_node_jobs", {node: tuple(jobs) for node, jobs in node_jobs.items()})

    @classmethod
    def from_topology(cls, topology: Any, job: str = "job-0") -> ClusterMap:
        """Build the map of an emulator topology whose job runs on every node but the spares.

        Args:
            topology: An ``emulators.topology.Topology`` or an object with the same
                ``node_names``, ``rack_of``, ``switch_of``, ``job_node_indices`` and
                ``spare_node_indices`` members.
            job: Name of the training job.
        """
        names = topology.node_names
        return cls(
            node_rack={name: topology.rack_of(index) for index, name in enumerate(names)},
            node_switch={name: topology.switch_of(index) for index, name in enumerate(names)},
            job_nodes={job: tuple(names[index] for index in topology.job_node_indices)},
            spares=tuple(names[index] for index in topology.spare_node_indices),
        )

    @property
    def node_count(self) -> int:
        """Number of nodes in the cluster, spares included."""
        return len(self.node_rack)

    def rack_of(self, node: str) -> str | None:
        """Return the rack of a node, or None for a node the map does not contain."""
        return self.node_rack.get(node)

    def switch_of(self, node: str) -> str | None:
        """Return the leaf switch of a node, or None when it is not known."""
        return self.node_switch.get(node)

    def nodes_of_job(self, job: str) -> tuple[str, ...]:
        """Return the nodes of a job; empty for an unknown job."""
        return tuple(self.job_nodes.get(job, ()))

    def jobs_of_node(self, node: str) -> tuple[str, ...]:
        """Return the jobs that run on a node, sorted by name."""
        return self._node_jobs.get(node, ())

    def nodes_of_rack(self, rack: str) -> tuple[str, ...]:
        """Return the nodes of a rack, in map order."""
        return tuple(node for node, node_rack in self.node_rack.items() if node_rack == rack)

    def nodes_of_switch(self, switch: str) -> tuple[str, ...]:
        """Return the nodes under a leaf switch, in map order."""
        return tuple(node for node, node_switch in self.node_switch.items() if node_switch == switch)

    def jobs_of_nodes(self, nodes: Iterable[str]) -> tuple[str, ...]:
        """Return the jobs that run on any of ``nodes``, sorted by name."""
        return tuple(sorted({job for node in nodes for job in self.jobs_of_node(node)}))
