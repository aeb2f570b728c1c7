from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from emulators.effects import JOB_CRASH, JOB_HANG
from emulators.goodput import GoodputLedger
from emulators.job import JobConditions, JobConfig, TrainingJob
from emulators.messages import JobGoodput
from pipeline import topics
from tests.emulators.harness import START

NODES = ("n0", "n1", "n2", "n3")
FAST = JobConfig(
    compute_seconds=0.8,
    comm_seconds=0.2,
    checkpoint_every_steps=10,
    checkpoint_seconds=5.0,
    restart_seconds=20.0,
    spare_swap_seconds=10.0,
    nccl_timeout_seconds=60.0,
    manual_recovery_seconds=None,
    step_jitter=0.0,
    node_speed_spread=0.0,
    goodput_interval_seconds=10.0,
)


def make_job(config: JobConfig = FAST, members: list[int] | None = None, spares: list[int] | None = None) -> TrainingJob:
    return TrainingJob(config, "test", NODES, members if members is not None else [0, 1, 2], spares if spares is not None else [3])


def conditions(crash: tuple[int, ...] = (), hang: tuple[int, ...] = (), speed: float = 1.0) -> JobConditions:
    fault = np.zeros(len(NODES), dtype=np.int8)
    fault[list(hang)] = JOB_HANG
    fault[list(crash)] = JOB_CRASH
    return JobConditions(
        speed=np.full(len(NODES), speed),
        comm_factor=np.ones(len(NODES)),
        job_fault=fault,
        faulty=fault > 0,
    )


def advance(job: TrainingJob, first: int, last: int, state: JobConditions | None = None) -> list[dict[str, object]]:
    values = []
    for second in range(first, last):
        records, _ = job.advance(START + timedelta(seconds=second), state or conditions())
        values += [record.value for record in records]
    return values


def assert_accounted(job: TrainingJob) -> None:
    """Every second up to the job's time is counted, except the step in progress."""
    unaccounted = job.t - job.ledger.elapsed_seconds
    assert unaccounted >= -1e-6
    assert unaccounted < FAST.compute_seconds + FAST.comm_seconds + 1e-6


def test_job_healthy_steps_every_second() -> None:
    job = make_job()
    values = advance(job, 0, 31)
    steps = [value["step"] for value in values if "rank" in value]
    assert steps[:3] == [1, 1, 1]
    assert job.step_number == 20
    assert job.checkpoint_step == 20
    assert job.ledger.losses["checkpoint"] == pytest.approx(10.0)
    assert_accounted(job)


def test_job_crash_rolls_back_to_checkpoint() -> None:
    job = make_job()
    advance(job, 0, 20)
    advance(job, 20, 21, conditions(crash=(1,)))
    assert job.state == "down"
    assert job.step_number == 10
    assert job.ledger.losses["replayed"] == pytest.approx(5.0, abs=1.0)
    assert job.ledger.interruptions == 1
    assert_accounted(job)


def test_job_down_counts_detection() -> None:
    job = make_job()
    advance(job, 0, 5)
    advance(job, 5, 6, conditions(crash=(1,)))
    advance(job, 6, 36, conditions(crash=(1,)))
    assert job.ledger.losses["detection"] == pytest.approx(30.0)


def test_job_short_hang_counts_slow_step() -> None:
    job = make_job()
    advance(job, 0, 5)
    advance(job, 5, 9, conditions(hang=(0,)))
    advance(job, 9, 20)
    assert job.state == "running"
    assert job.ledger.losses["slow_step"] == pytest.approx(4.0, abs=0.01)
    assert job.ledger.losses["detection"] == 0
    assert job.ledger.interruptions == 1


def test_job_hang_times_out_to_down() -> None:
    job = make_job()
    advance(job, 0, 5)
    advance(job, 5, 80, conditions(hang=(0,)))
    assert job.state == "down"
    assert job.ledger.losses["detection"] == pytest.approx(74.0)
    assert job.ledger.interruptions == 1
    assert_accounted(job)


def test_job_restart_runs_again() -> None:
    job = make_job()
    advance(job, 0, 5)
    advance(job, 5, 6, conditions(crash=(2,)))
    job.restart()
    advance(job, 6, 45)
    assert job.state == "running"
    assert job.ledger.losses["restart"] == pytest.approx(20.0)
    assert job.restarts == 1
    assert_accounted(job)


def test_job_restart_on_faulty_node_crashes_again() -> None:
    job = make_job()
    advance(job, 0, 5)
    advance(job, 5, 6, conditions(crash=(2,)))
    job.restart()
    advance(job, 6, 40, conditions(crash=(2,)))
    assert job.state == "down"
    assert job.ledger.interruptions == 2


def test_job_swap_replaces_member_with_spare() -> None:
    job = make_job()
    advance(job, 0, 5)
    advance(job, 5, 6, conditions(crash=(1,)))
    spare = job.swap(1)
    advance(job, 6, 55, conditions(crash=(1,)))
    assert spare == 3
    assert job.members == [0, 3, 2]
    assert job.spares == []
    assert job.state == "running"
    assert job.ledger.losses["isolation"] == pytest.approx(10.0)


def test_job_swap_running_checkpoints_first() -> None:
    job = make_job()
    advance(job, 0, 20)
    job.swap(1)
    assert job.state == "checkpointing"
    advance(job, 20, 60)
    assert job.ledger.losses["replayed"] < 1.0
    assert job.checkpoint_step == 14


def test_job_swap_without_spare_returns_none() -> None:
    job = make_job(spares=[])
    assert job.swap(1) is None
    assert job.members == [0, 1, 2]


def test_job_swap_rejects_non_member() -> None:
    with pytest.raises(ValueError, match="node n3 is not in job"):
        make_job().swap(3)


def test_job_exclude_shrinks_job() -> None:
    job = make_job()
    advance(job, 0, 5)
    job.exclude(2)
    advance(job, 5, 40)
    assert job.members == [0, 1]
    progress = [value for value in advance(job, 40, 42) if "rank" in value]
    assert {value["node"] for value in progress} == {"n0", "n1"}


def test_job_exclude_last_node_raises() -> None:
    with pytest.raises(ValueError, match="last node"):
        make_job(members=[0]).exclude(0)


def test_job_cordoned_spare_not_used() -> None:
    job = make_job()
    job.cordon(3)
    assert job.swap(1) is None


def test_job_emergency_checkpoint_pauses() -> None:
    job = make_job()
    advance(job, 0, 5)
    job.emergency_checkpoint(pause=True)
    advance(job, 5, 20)
    assert job.state == "paused"
    assert job.checkpoint_step == job.step_number
    assert job.ledger.losses["paused"] == pytest.approx(10.0, abs=1.0)
    job.restart()
    assert job.state == "restarting"


def test_job_emergency_checkpoint_down_raises() -> None:
    job = make_job()
    advance(job, 0, 2)
    advance(job, 2, 3, conditions(crash=(0,)))
    with pytest.raises(ValueError, match="cannot checkpoint"):
        job.emergency_checkpoint()


def test_job_swap_at_checkpoint_loses_no_work() -> None:
    job = make_job()
    advance(job, 0, 3)
    job.swap_at_checkpoint(1)
    assert job.state == "running"
    advance(job, 3, 60)
    assert job.members == [0, 3, 2]
    assert job.ledger.losses["replayed"] == 0
    assert job.ledger.losses["isolation"] == pytest.approx(10.0)


def test_job_manual_recovery_swaps_faulty_node() -> None:
    job = make_job(JobConfig(**{**FAST.__dict__, "manual_recovery_seconds": 30.0}))
    advance(job, 0, 5)
    advance(job, 5, 40, conditions(crash=(1,)))
    assert job.members == [0, 3, 2]
    assert job.state in ("isolating", "restarting")


def test_job_manual_recovery_restarts_job_wide_fault() -> None:
    job = make_job(JobConfig(**{**FAST.__dict__, "manual_recovery_seconds": 30.0}))
    advance(job, 0, 5)
    advance(job, 5, 6, conditions(crash=(0, 1, 2)))
    advance(job, 6, 40, conditions(crash=(0, 1, 2)))
    assert job.members == [0, 1, 2]
    assert job.restarts >= 1


def test_job_straggler_counts_slow_steps() -> None:
    job = make_job()
    advance(job, 0, 30, conditions(speed=0.8))
    assert job.ledger.losses["slow_step"] == pytest.approx(0.2 * job.ledger.productive_seconds, rel=0.05)


def test_job_release_returns_node_to_spares() -> None:
    job = make_job()
    advance(job, 0, 5)
    job.swap(1)
    job.cordon(1)
    job.release(1)
    assert job.spares == [1]
    assert 1 not in job.cordoned


def test_job_goodput_validates() -> None:
    job = make_job()
    values = advance(job, 0, 25)
    goodput = [value for value in values if "ettr" in value]
    assert len(goodput) == 3
    for value in goodput:
        JobGoodput.model_validate(value)


def test_job_progress_topic_and_key() -> None:
    job = make_job()
    job.advance(START, conditions())
    records, _ = job.advance(START + timedelta(seconds=3), conditions())
    progress = [record for record in records if record.topic == topics.JOB_PROGRESS]
    assert {record.key for record in progress} == {FAST.name}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("compute_seconds", 0.0, "compute_seconds must be positive"),
        ("checkpoint_every_steps", 0, "checkpoint_every_steps must be at least 1"),
        ("restart_seconds", -1.0, "restart_seconds must not be negative"),
        ("goodput_interval_seconds", 0.0, "goodput_interval_seconds must be positive or None"),
    ],
)
def test_job_config_rejects_invalid(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobConfig(**{field: value})


def test_ledger_roll_back_moves_uncommitted() -> None:
    ledger = GoodputLedger()
    ledger.add_step(10.0, 1.0)
    ledger.commit()
    ledger.add_step(5.0, 0.5)
    moved = ledger.roll_back(2.0)
    assert moved == pytest.approx(7.5)
    assert ledger.productive_seconds == pytest.approx(10.0)
    assert ledger.losses["slow_step"] == pytest.approx(1.0)
    assert ledger.losses["replayed"] == pytest.approx(7.5)


def test_ledger_ettr_before_time_is_one() -> None:
    assert GoodputLedger().ettr == 1.0


def test_ledger_rejects_negative_loss() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        GoodputLedger().add_loss("restart", -1.0)
