"""Guards at their boundaries: cordon rate, cluster share and cooldown."""

from __future__ import annotations

import pytest

from pipeline.incidents import ClusterMap
from tests.policy.conftest import at, make_policy, opened


def test_removal_rate_at_limit_allowed(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, guards={"max_node_removals_per_hour": 2, "max_removed_share": 1.0})
    policy.decide(opened("xid_79", "r000-n00"), at(0))

    actions = policy.decide(opened("xid_79", "r000-n01"), at(1))

    assert [action.kind for action in actions] == ["cordon_node", "swap_spare"]


def test_removal_rate_over_limit_pages(cluster_map: ClusterMap) -> None:
    rules = {"xid_79": [{"actions": ["cordon_node"]}]}
    policy = make_policy(cluster_map, rules=rules, guards={"max_node_removals_per_hour": 2, "max_removed_share": 1.0})
    policy.decide(opened("xid_79", "r000-n00"), at(0))
    policy.decide(opened("xid_79", "r000-n01"), at(1))

    actions = policy.decide(opened("xid_79", "r000-n02"), at(2))

    assert [(action.kind, action.target) for action in actions] == [("page", "r000-n02")]
    assert actions[0].parameters["blocked_kind"] == "cordon_node"


@pytest.mark.parametrize(("seconds", "expected"), [(3599, "page"), (3600, "cordon_node")], ids=["inside_hour", "hour_later"])
def test_removal_rate_window_boundary(cluster_map: ClusterMap, seconds: int, expected: str) -> None:
    policy = make_policy(cluster_map, guards={"max_node_removals_per_hour": 1, "max_removed_share": 1.0})
    policy.decide(opened("xid_79", "r000-n00"), at(0))
    policy.release_node("r000-n00")

    actions = policy.decide(opened("xid_79", "r000-n01", seconds=seconds), at(seconds))

    assert actions[0].kind == expected


@pytest.mark.parametrize(("nodes", "expected"), [(2, "cordon_node"), (3, "page")], ids=["at_share", "over_share"])
def test_removed_share_boundary(cluster_map: ClusterMap, nodes: int, expected: str) -> None:
    # 8 nodes at a share of 0.25 allow 2 nodes out of service.
    policy = make_policy(cluster_map, guards={"max_node_removals_per_hour": 100, "max_removed_share": 0.25})
    for index in range(nodes - 1):
        policy.decide(opened("xid_79", f"r000-n0{index}"), at(index))

    actions = policy.decide(opened("xid_79", f"r000-n0{nodes - 1}", seconds=10), at(10))

    assert actions[0].kind == expected


def test_removed_share_minimum_one_node(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, guards={"max_removed_share": 0.01, "min_removable_nodes": 1})

    actions = policy.decide(opened("xid_79"), at(0))

    assert actions[0].kind == "cordon_node"


def test_rejected_removal_frees_share(cluster_map: ClusterMap) -> None:
    from pipeline.policy import ActionResult

    policy = make_policy(cluster_map, guards={"max_removed_share": 0.125, "max_node_removals_per_hour": 100})
    first = policy.decide(opened("xid_79", "r000-n00"), at(0))
    policy.record_result(ActionResult(action_id=first[0].action_id, status="rejected", applied_at=at(1)))

    actions = policy.decide(opened("xid_79", "r000-n01", seconds=2), at(2))

    assert actions[0].kind == "cordon_node"


@pytest.mark.parametrize(("seconds", "count"), [(599, 0), (600, 1)], ids=["inside_cooldown", "after_cooldown"])
def test_cooldown_boundary(cluster_map: ClusterMap, seconds: int, count: int) -> None:
    policy = make_policy(cluster_map, rules={"straggler": [{"actions": ["warn"]}]}, guards={"cooldown_seconds": 600})
    policy.decide(opened("straggler", seconds=0), at(0))

    actions = policy.decide(opened("straggler", seconds=seconds), at(seconds))

    assert len(actions) == count


def test_cooldown_per_target(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, rules={"straggler": [{"actions": ["warn"]}]})
    policy.decide(opened("straggler", "r000-n00"), at(0))

    actions = policy.decide(opened("straggler", "r000-n01"), at(1))

    assert [action.target for action in actions] == ["r000-n01"]
