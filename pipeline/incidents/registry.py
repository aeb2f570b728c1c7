"""The cluster map of a running worker: from a topology file, grown from telemetry."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.incidents.cluster_map import ClusterMap
from pipeline.schemas import DpuTelemetry, Envelope, GpuTelemetry, JobProgress

logger = logging.getLogger(__name__)


class ClusterMapRegistry:
    """Keep a :class:`ClusterMap` up to date with the nodes and jobs that telemetry names.

    A topology file, when given, adds what telemetry cannot tell: leaf switches and the
    hot-spare pool. Without one, the policy sees no spares and falls back to excluding
    nodes.
    """

    def __init__(self, topology_file: Path | None = None, job: str = "job-0") -> None:
        self._node_rack: dict[str, str] = {}
        self._node_switch: dict[str, str] = {}
        self._job_nodes: dict[str, set[str]] = {}
        self._spares: tuple[str, ...] = ()
        if topology_file is not None:
            from emulators.topology import load_topology

            base = ClusterMap.from_topology(load_topology(topology_file), job=job)
            self._node_rack.update(base.node_rack)
            self._node_switch.update(base.node_switch)
            self._spares = base.spares
            logger.info("cluster map loaded topology=%s nodes=%d spares=%d", topology_file, len(self._node_rack), len(self._spares))
        self._map = self._build()

    @property
    def current(self) -> ClusterMap:
        """The map as of the last observed message."""
        return self._map

    def observe(self, message: Envelope) -> None:
        """Learn a node's rack from GPU and DPU telemetry, and a job's nodes from its progress."""
        changed = False
        if isinstance(message, (GpuTelemetry, DpuTelemetry)) and self._node_rack.get(message.node) != message.rack:
            self._node_rack[message.node] = message.rack
            changed = True
        elif isinstance(message, JobProgress):
            nodes = self._job_nodes.setdefault(message.job, set())
            if message.node not in nodes:
                nodes.add(message.node)
                changed = True
        if changed:
            self._map = self._build()

    def _build(self) -> ClusterMap:
        members = {node for nodes in self._job_nodes.values() for node in nodes}
        return ClusterMap(
            node_rack=dict(self._node_rack),
            node_switch=dict(self._node_switch),
            job_nodes={job: tuple(sorted(node for node in nodes if node in self._node_rack)) for job, nodes in self._job_nodes.items()},
            spares=tuple(node for node in self._spares if node not in members),
        )
