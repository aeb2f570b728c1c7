"""Job stage: restarts from a checkpoint, local-loss departures and planned stops."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.detection.job_stage import JobStage
from pipeline.schemas import JobGoodput, JobProgress

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def progress(rank: int, step: int, at: float, seconds: float = 2.0, loss: float | None = None) -> JobProgress:
    return JobProgress.model_validate({
        "schema_version": 1, "time": (START + timedelta(seconds=at)).isoformat(), "job": "j1", "node": f"n{rank}",
        "rank": rank, "step": step, "step_time_seconds": seconds, "loss": loss,
    })


def goodput(state: str, at: float) -> JobGoodput:
    return JobGoodput.model_validate({
        "schema_version": 1, "time": (START + timedelta(seconds=at)).isoformat(), "job": "j1", "state": state, "step": 0,
        "checkpoint_step": 0, "nodes": 4, "interruptions": 0, "ettr": 1.0, "elapsed_seconds": at, "productive_seconds": at,
        **{f"{kind}_seconds": 0.0 for kind in ("detection", "isolation", "restart", "replayed", "checkpoint", "slow_step", "paused")},
    })


def run_steps(stage: JobStage, steps: range, at: float = 0.0, slow_rank: int | None = None, loss_of: dict[int, float] | None = None) -> list:
    anomalies = []
    for index, step in enumerate(steps):
        for rank in range(4):
            seconds = 2.3 if rank == slow_rank else 2.0
            loss = (loss_of or {}).get(rank, 2.0 + 0.01 * rank)
            anomalies += stage.process(progress(rank, step, at + index * 2.0, seconds, loss))
    return anomalies


def test_restart_from_checkpoint_keeps_scoring() -> None:
    stage = JobStage()
    run_steps(stage, range(1, 50))

    # The job restarts from step 30, and rank 1 is slow from then on.
    anomalies = run_steps(stage, range(30, 60), at=200.0, slow_rank=1)

    assert [anomaly.entity for anomaly in anomalies if anomaly.detector == "job.straggler"] == ["n1"]


@pytest.mark.parametrize(("loss", "fires"), [(2.9, False), (3.0, True), (1.34, False), (1.33, True)], ids=["below", "at_ratio", "low_inside", "low_outside"])
def test_loss_ratio_boundary(loss: float, fires: bool) -> None:
    stage = JobStage(loss_ratio=1.5, loss_persistence=1)

    anomalies = run_steps(stage, range(1, 4), loss_of={0: 2.0, 1: 2.0, 2: 2.0, 3: loss})

    assert any(anomaly.detector == "job.loss" for anomaly in anomalies) is fires


def test_loss_departure_needs_persistence_and_reports_once() -> None:
    stage = JobStage(loss_persistence=2)

    one_step = run_steps(stage, range(1, 2), loss_of={2: 6.0}) + run_steps(stage, range(2, 5), at=4.0)
    lasting = run_steps(stage, range(5, 15), at=20.0, loss_of={2: 6.0})

    assert [anomaly for anomaly in one_step if anomaly.detector == "job.loss"] == []
    flagged = [anomaly for anomaly in lasting if anomaly.detector == "job.loss"]
    assert [(anomaly.entity, anomaly.fault_class) for anomaly in flagged] == [("n2", "silent_data_corruption")]


def test_hang_names_the_jobs_nodes() -> None:
    stage = JobStage(min_hang_seconds=30)
    run_steps(stage, range(1, 5))

    hangs = stage.check_hangs(START + timedelta(seconds=60))

    assert hangs[0].evidence["nodes"] == "n0,n1,n2,n3"


def test_planned_stop_is_not_a_hang() -> None:
    stage = JobStage(min_hang_seconds=30)
    run_steps(stage, range(1, 5))
    stage.process_goodput(goodput("isolating", 8.0))

    assert stage.check_hangs(START + timedelta(seconds=60)) == []

    # Back to running: the hang clock starts again from the announcement.
    stage.process_goodput(goodput("running", 70.0))
    assert stage.check_hangs(START + timedelta(seconds=90)) == []
    assert [anomaly.entity for anomaly in stage.check_hangs(START + timedelta(seconds=101))] == ["j1"]
