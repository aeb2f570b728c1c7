"""Builders of incidents, policies and a small cluster map for the policy tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.incidents import ClusterMap, Incident, IncidentUpdate
from pipeline.policy import Policy, parse_policy

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    """Return the event time ``seconds`` after the test epoch."""
    return T0 + timedelta(seconds=seconds)


def opened(fault_class: str, node: str | None = "r000-n01", seconds: float = 0, **overrides: Any) -> IncidentUpdate:
    """Return an ``opened`` update of a GPU incident on ``node``, or of ``overrides``' scope."""
    values: dict[str, Any] = {
        "incident_id": f"inc-{fault_class}-{node}-{seconds}",
        "scope": "gpu",
        "entity": node,
        "gpu": 0,
        "node": node,
        "rack": node[:4] if node else None,
        "jobs": ("job-0",),
        "fault_class": fault_class,
        "severity": "critical",
        "confidence": "high",
        "started_at": at(seconds),
        "updated_at": at(seconds),
        "anomaly_count": 1,
    }
    values.update(overrides)
    return IncidentUpdate(kind="opened", time=at(seconds), incident=Incident(**values))


def make_policy(cluster_map: ClusterMap, **overrides: Any) -> Policy:
    """Return a policy with two rules and the given top-level keys replaced."""
    data: dict[str, Any] = {
        "guards": {"max_node_removals_per_hour": 10, "max_removed_share": 1.0, "cooldown_seconds": 600},
        "rules": {
            "xid_79": [{"actions": ["cordon_node", "swap_spare"]}],
            "straggler": [{"min_confidence": "high", "actions": ["warn"]}],
        },
    }
    data.update(overrides)
    return Policy(parse_policy(data), cluster_map)


@pytest.fixture
def cluster_map() -> ClusterMap:
    """Two racks of four nodes, one job on six nodes, two spares."""
    nodes = [f"r{rack:03d}-n{node:02d}" for rack in range(2) for node in range(4)]
    return ClusterMap(
        node_rack={node: node[:4] for node in nodes},
        node_switch={node: f"leaf{int(node[1:4]):03d}" for node in nodes},
        job_nodes={"job-0": tuple(nodes[:6])},
        spares=tuple(nodes[6:]),
    )
