from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from emulators.cluster import ClusterEmulator
from emulators.controller import Controller, result_record
from emulators.faults.injector import FaultInjector
from emulators.messages import ACTION_RESULTS
from pipeline import topics
from pipeline.policy.models import ActionRequest, ActionResult
from tests.emulators.harness import NO_OPERATOR, SMALL, START, fault

JOB = NO_OPERATOR.name


def request(kind: str, target: str, action_id: str = "act-1", **fields: Any) -> ActionRequest:
    return ActionRequest(
        action_id=action_id, kind=kind, target=target, incident_id="inc-1", fault_class="test",  # type: ignore[arg-type]
        issued_at=START, **fields,
    )


def emulator_at(seconds: int, faults: list | None = None) -> tuple[ClusterEmulator, Controller]:
    injector = FaultInjector(SMALL)
    for item in faults or []:
        injector.add(item)
    emulator = ClusterEmulator(SMALL, seed=0, job=NO_OPERATOR, injector=injector)
    for second in range(seconds):
        emulator.sample(START + timedelta(seconds=second))
    return emulator, Controller(emulator)


def advance(emulator: ClusterEmulator, first: int, last: int) -> list:
    records = []
    for second in range(first, last):
        records += emulator.sample(START + timedelta(seconds=second))
    return records


def now(second: int) -> Any:
    return START + timedelta(seconds=second)


def test_controller_restart_recovers_crashed_job() -> None:
    emulator, controller = emulator_at(40, [fault("software_crash", 20)])
    assert emulator.job.state == "down"
    result = controller.apply(request("restart_in_place", JOB, job=JOB), now(39))
    advance(emulator, 40, 200)
    assert result.status == "ok"
    assert emulator.job.state in ("running", "checkpointing")
    assert emulator.injector.active == []


def test_controller_swap_moves_job_to_spare() -> None:
    emulator, controller = emulator_at(60, [fault("gpu_fell_off_bus", 10, node=1, gpu=0)])
    result = controller.apply(request("swap_spare", "r000-n01", job=JOB), now(59))
    advance(emulator, 60, 250)
    assert result.status == "ok"
    assert "r001-n01" in result.detail
    assert emulator.job.members == [0, 3, 2]
    assert emulator.job.state in ("running", "checkpointing")


def test_controller_swap_at_checkpoint_waits() -> None:
    emulator, controller = emulator_at(10)
    result = controller.apply(request("swap_spare", "r000-n01", job=JOB, parameters={"at_checkpoint": True}), now(9))
    assert result.status == "ok"
    assert emulator.job.members == [0, 1, 2]
    assert emulator.job.swaps_at_checkpoint == [1]


def test_controller_swap_without_spare_fails() -> None:
    emulator, controller = emulator_at(5)
    controller.apply(request("swap_spare", "r000-n01", action_id="act-1"), now(4))
    result = controller.apply(request("swap_spare", "r000-n00", action_id="act-2"), now(4))
    assert result.status == "failed"
    assert "no free hot spare" in result.detail


def test_controller_exclude_shrinks_job() -> None:
    emulator, controller = emulator_at(5)
    result = controller.apply(request("exclude_node", "r001-n00"), now(4))
    assert result.status == "ok"
    assert emulator.job.members == [0, 1]


def test_controller_cordon_removes_spare() -> None:
    emulator, controller = emulator_at(5)
    controller.apply(request("cordon_node", "r001-n01"), now(4))
    assert emulator.job.free_spare() is None


def test_controller_cap_power_limits_gpus() -> None:
    emulator, controller = emulator_at(5)
    result = controller.apply(request("cap_power", "r000", parameters={"power_cap_fraction": 0.8}), now(4))
    records = advance(emulator, 5, 30)
    power = [record.value for record in records if record.topic == topics.POWER and record.key == "r000"][-1]
    gpu = [record.value for record in records if record.topic == topics.GPU and record.key == "r000-n00"][-1]["gpus"][0]
    assert result.status == "ok"
    assert power["PowerLimitWatts"] == pytest.approx(0.8 * 2 * (2 * 700 + 1800))
    assert gpu["DCGM_FI_DEV_ENFORCED_POWER_LIMIT"] < 700
    assert power["PowerWatts"] <= power["PowerLimitWatts"] * 1.02


def test_controller_cap_power_needs_limit() -> None:
    _, controller = emulator_at(1)
    result = controller.apply(request("cap_power", "r000"), now(0))
    assert result.status == "rejected"
    assert "power_limit_watts or power_cap_fraction" in result.detail


def test_controller_isolate_rack_powers_off_nodes() -> None:
    emulator, controller = emulator_at(5)
    result = controller.apply(request("isolate_rack", "r000"), now(4))
    records = advance(emulator, 5, 10)
    assert result.status == "ok"
    assert not [record for record in records if record.topic == topics.GPU and record.key.startswith("r000")]
    assert set(emulator.job.members) == {2, 3}
    assert {0, 1} <= emulator.job.cordoned


def test_controller_emergency_checkpoint_continues() -> None:
    emulator, controller = emulator_at(15)
    result = controller.apply(request("emergency_checkpoint", JOB, job=JOB), now(14))
    advance(emulator, 15, 30)
    assert result.status == "ok"
    assert emulator.job.checkpoint_step > 0
    assert emulator.job.state == "running"


def test_controller_repeat_id_applied_once() -> None:
    emulator, controller = emulator_at(5)
    first = controller.apply(request("exclude_node", "r001-n00"), now(4))
    second = controller.apply(request("exclude_node", "r001-n00"), now(4))
    assert second == first
    assert emulator.job.members == [0, 1]


def test_controller_dry_run_changes_nothing() -> None:
    emulator, controller = emulator_at(5)
    result = controller.apply(request("exclude_node", "r001-n00", dry_run=True), now(4))
    assert result.status == "ok"
    assert result.detail.startswith("dry run")
    assert emulator.job.members == [0, 1, 2]


@pytest.mark.parametrize(
    ("kind", "target", "fields", "message"),
    [
        ("swap_spare", "r009-n00", {}, "unknown node 'r009-n00'"),
        ("exclude_node", "r001-n01", {}, "not in job"),
        ("cap_power", "r007", {"parameters": {"power_limit_watts": 1000}}, "unknown rack 'r007'"),
        ("restart_in_place", "job-9", {}, "unknown job 'job-9'"),
        ("warn", "r000-n00", {"job": "job-9"}, "unknown job 'job-9'"),
    ],
)
def test_controller_rejects_unknown_target(kind: str, target: str, fields: dict[str, Any], message: str) -> None:
    _, controller = emulator_at(1)
    result = controller.apply(request(kind, target, **fields), now(0))
    assert result.status == "rejected"
    assert message in result.detail


@pytest.mark.parametrize("kind", ["warn", "page"])
def test_controller_notices_change_nothing(kind: str) -> None:
    emulator, controller = emulator_at(5)
    result = controller.apply(request(kind, "r000-n00"), now(4))
    assert result.status == "ok"
    assert emulator.job.members == [0, 1, 2]


def test_result_record_round_trips() -> None:
    _, controller = emulator_at(1)
    record = result_record(controller.apply(request("warn", "r000"), now(0)))
    assert record.topic == ACTION_RESULTS
    assert record.key == "act-1"
    assert ActionResult.model_validate(record.value).status == "ok"
