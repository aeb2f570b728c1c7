"""Builders of anomalies and of a small cluster map for the correlator tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from detectors.anomaly import Anomaly
from pipeline.incidents import ClusterMap

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    """Return the event time ``seconds`` after the test epoch."""
    return T0 + timedelta(seconds=seconds)


def anomaly(seconds: float, entity: str, fault_class: str | None, **overrides: Any) -> Anomaly:
    """Return an anomaly at ``seconds``; a ``gpu`` override makes it a GPU anomaly."""
    values: dict[str, Any] = {
        "time": at(seconds),
        "cluster": "test",
        "entity": entity,
        "entity_kind": "gpu" if "gpu" in overrides else "node",
        "detector": "stats.test",
        "score": 1.5,
        "threshold": 1.0,
        "severity": "warning",
        "fault_class": fault_class,
    }
    values.update(overrides)
    return Anomaly(**values)


@pytest.fixture
def cluster_map() -> ClusterMap:
    """Two racks of four nodes, one leaf switch per rack, one job on seven nodes, one spare."""
    nodes = [f"r{rack:03d}-n{node:02d}" for rack in range(2) for node in range(4)]
    return ClusterMap(
        node_rack={node: node[:4] for node in nodes},
        node_switch={node: f"leaf{int(node[1:4]):03d}" for node in nodes},
        job_nodes={"job-0": tuple(nodes[:7])},
        spares=(nodes[7],),
    )
