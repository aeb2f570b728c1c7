"""Policy: tier choice, targets, dry run, idempotency and the spare pool."""

from __future__ import annotations

from pipeline.incidents import ClusterMap, Correlator, IncidentUpdate
from pipeline.policy import ActionResult, Policy, load_policy
from tests.incidents.conftest import anomaly
from tests.policy.conftest import at, make_policy, opened


def kinds(actions: list) -> list[tuple[str, str]]:
    return [(action.kind, action.target) for action in actions]


def test_xid_79_cordons_and_swaps(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map)

    actions = policy.decide(opened("xid_79"), at(0))

    assert kinds(actions) == [("cordon_node", "r000-n01"), ("swap_spare", "r000-n01")]
    assert actions[1].parameters == {"spare": "r001-n02"}
    assert actions[1].job == "job-0"
    assert all(action.dry_run is False for action in actions)


def test_resolved_update_takes_no_action(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map)
    update = opened("xid_79")
    resolved = IncidentUpdate(kind="resolved", time=at(60), incident=update.incident.model_copy(update={"status": "resolved"}))

    assert policy.decide(resolved, at(60)) == []


def test_tier_below_confidence_takes_no_action(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map)

    actions = policy.decide(opened("straggler", confidence="medium", severity="warning"), at(0))

    assert actions == []


def test_unknown_class_uses_default(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, default=[{"actions": ["warn"]}])

    actions = policy.decide(opened("mystery"), at(0))

    assert kinds(actions) == [("warn", "r000-n01")]


def test_dry_run_marks_actions(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, dry_run=True)

    actions = policy.decide(opened("xid_79"), at(0))

    assert len(actions) == 2
    assert all(action.dry_run for action in actions)


def test_same_update_twice_issues_once(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, guards={"cooldown_seconds": 0, "max_removed_share": 1.0})
    update = opened("xid_79")

    first = policy.decide(update, at(0))
    second = policy.decide(update, at(700))

    assert len(first) == 2
    assert second == []


def test_replay_after_restore_issues_nothing(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map)
    update = opened("xid_79")
    first = policy.decide(update, at(0))

    restarted = make_policy(cluster_map)
    restarted.restore(policy.snapshot())

    assert len(first) == 2
    assert restarted.decide(update, at(0)) == []


def test_action_ids_stable_across_policies(cluster_map: ClusterMap) -> None:
    update = opened("xid_79")

    first = make_policy(cluster_map).decide(update, at(0))
    second = make_policy(cluster_map).decide(update, at(0))

    assert [action.action_id for action in first] == [action.action_id for action in second]


def test_spare_pool_exhausted_falls_back(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map)
    policy.decide(opened("xid_79", "r000-n00"), at(0))
    policy.decide(opened("xid_79", "r000-n01"), at(1))

    actions = policy.decide(opened("xid_79", "r000-n02"), at(2))

    assert kinds(actions) == [("cordon_node", "r000-n02"), ("exclude_node", "r000-n02"), ("restart_in_place", "job-0")]
    assert actions[2].parameters == {"node": "r000-n02"}


def test_failed_swap_frees_spare(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map)
    first = policy.decide(opened("xid_79", "r000-n00"), at(0))
    policy.decide(opened("xid_79", "r000-n01"), at(1))

    policy.record_result(ActionResult(action_id=first[1].action_id, status="failed", detail="spare did not boot", applied_at=at(3)))
    actions = policy.decide(opened("xid_79", "r000-n02"), at(4))

    assert kinds(actions)[1] == ("swap_spare", "r000-n02")
    assert actions[1].parameters == {"spare": "r001-n02"}


def test_job_hang_with_suspect_swaps_it(cluster_map: ClusterMap) -> None:
    policy = Policy(load_policy(), cluster_map)
    update = opened("job_hang", None, scope="job", entity="job-0", gpu=None, suspects=("r000-n03",), confidence="medium", severity="warning")

    actions = policy.decide(update, at(0))

    assert kinds(actions) == [("cordon_node", "r000-n03"), ("swap_spare", "r000-n03")]


def test_rack_action_without_rack_skipped(cluster_map: ClusterMap) -> None:
    policy = make_policy(cluster_map, rules={"odd": [{"actions": ["cap_power", "warn"]}]})

    actions = policy.decide(opened("odd", None, scope="series", entity="machine-1", gpu=None, jobs=()), at(0))

    assert kinds(actions) == [("warn", "machine-1")]


def test_default_pump_failure_caps_rack(cluster_map: ClusterMap) -> None:
    policy = Policy(load_policy(), cluster_map)
    update = opened("cdu_pump_failure", None, scope="rack", entity="r000", gpu=None, rack="r000")

    actions = policy.decide(update, at(0))

    assert kinds(actions) == [("cap_power", "r000"), ("emergency_checkpoint", "job-0"), ("page", "r000")]
    assert actions[0].parameters == {"power_cap_fraction": 0.6}


def test_default_repeat_offender_pages(cluster_map: ClusterMap) -> None:
    policy = Policy(load_policy(), cluster_map)

    actions = policy.decide(opened("xid_app_error", repeat_offender=True, offender_count=2), at(0))
    first_time = policy.decide(opened("xid_app_error", "r000-n02"), at(1))

    assert [kind for kind, _ in kinds(actions)] == ["cordon_node", "swap_spare"]
    assert kinds(first_time) == [("restart_in_place", "job-0")]


def test_fault_free_stream_takes_no_action(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    policy = Policy(load_policy(), cluster_map)

    actions = [action for second in range(0, 3600, 10) for update in correlator.tick(at(second)) for action in policy.decide(update, at(second))]

    assert actions == []
    assert correlator.firing == []


def test_pump_failure_stream_caps_rack(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    policy = Policy(load_policy(), cluster_map)
    stream = [anomaly(0, "r000", "cdu_pump_failure", entity_kind="rack", severity="critical")]
    stream += [anomaly(second, f"r000-n0{node}", "gpu_thermal", gpu=gpu) for second in range(5, 60, 5) for node in range(4) for gpu in range(8)]

    actions = [action for item in stream for update in correlator.process(item) for action in policy.decide(update, update.time)]

    assert kinds(actions) == [("cap_power", "r000"), ("emergency_checkpoint", "job-0"), ("page", "r000")]
