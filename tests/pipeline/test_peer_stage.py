from datetime import datetime, timedelta, timezone

import pytest

from pipeline.detection.engine import DetectionEngine
from pipeline.detection.membership import JobMembership
from pipeline.detection.peer_stage import PeerStage
from pipeline.schemas import GpuTelemetry, JobGoodput, JobProgress
from tests.factories import gpu_message

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
NODES = [f"r000-n0{index}" for index in range(6)]
CLOCK = 1965.0


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def progress(node: str, rank: int, seconds: float, job: str = "job-1") -> JobProgress:
    return JobProgress.model_validate({
        "schema_version": 1, "time": at(seconds).isoformat(), "job": job, "node": node, "rank": rank,
        "step": int(seconds) + 1, "step_time_seconds": 1.0,
    })


def gpu_sample(node: str, seconds: float, clock: float = CLOCK) -> GpuTelemetry:
    gpus = [
        {"gpu": gpu, "DCGM_FI_DEV_SM_CLOCK": clock, "DCGM_FI_DEV_POWER_USAGE": 640.0 + gpu, "DCGM_FI_DEV_GPU_UTIL": 99.0,
         "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": 0.5}
        for gpu in range(4)
    ]
    return GpuTelemetry.model_validate(gpu_message(time=at(seconds).isoformat(), rack="r000", node=node, gpus=gpus))


def join(stage: PeerStage, nodes: list[str], seconds: float) -> None:
    for rank, node in enumerate(nodes):
        stage.observe_progress(progress(node, rank, seconds))


def run_steps(stage: PeerStage, nodes: list[str], steps: range, slow: dict[str, float] | None = None) -> list:
    anomalies = []
    for step in steps:
        join(stage, nodes, step)
        for node in nodes:
            anomalies += stage.process(gpu_sample(node, step, clock=(slow or {}).get(node, CLOCK)))
    return anomalies


def test_straggler_found_within_steps() -> None:
    stage = PeerStage()

    anomalies = run_steps(stage, NODES, range(10), slow={"r000-n03": CLOCK * 0.9})

    assert len(anomalies) == 1
    anomaly = anomalies[0]
    assert anomaly.entity == "r000-n03"
    assert anomaly.entity_kind == "node"
    assert anomaly.detector == "peers.deviation"
    assert anomaly.time <= at(stage.persistence_n - 1)
    assert anomaly.evidence["metric"] == "DCGM_FI_DEV_SM_CLOCK"
    assert anomaly.evidence["value"] == pytest.approx(CLOCK * 0.9)
    assert anomaly.evidence["peer_median"] == pytest.approx(CLOCK)
    assert anomaly.fault_class == "straggler"


def test_equal_peers_no_anomaly() -> None:
    stage = PeerStage()

    assert run_steps(stage, NODES, range(60)) == []


def test_blip_below_persistence_ignored() -> None:
    stage = PeerStage()
    anomalies = run_steps(stage, NODES, range(10))

    anomalies += run_steps(stage, NODES, range(10, 12), slow={"r000-n02": CLOCK * 0.8})
    anomalies += run_steps(stage, NODES, range(12, 30))

    assert anomalies == []


def test_reported_once_and_rearms() -> None:
    stage = PeerStage()
    slow = {"r000-n01": CLOCK * 0.85}

    first = run_steps(stage, NODES, range(20), slow=slow)
    healthy = run_steps(stage, NODES, range(20, 30))
    second = run_steps(stage, NODES, range(30, 40), slow=slow)

    assert [anomaly.entity for anomaly in first] == ["r000-n01"]
    assert healthy == []
    assert [anomaly.entity for anomaly in second] == ["r000-n01"]


def test_swapped_out_node_not_compared() -> None:
    stage = PeerStage()
    spare = "r001-n03"
    run_steps(stage, NODES, range(10))

    # The spare takes rank 3; the old node keeps sending GPU samples at low clocks.
    swapped = NODES[:3] + [spare] + NODES[4:]
    anomalies = run_steps(stage, swapped, range(10, 40))
    for step in range(10, 40):
        anomalies += stage.process(gpu_sample(NODES[3], step, clock=CLOCK * 0.5))

    assert stage.membership.members("job-1") == tuple(sorted(swapped))
    assert stage.membership.job_of(NODES[3]) is None
    assert anomalies == []


def test_node_outside_jobs_ignored() -> None:
    stage = PeerStage()

    anomalies = [stage.process(gpu_sample(node, 0)) for node in NODES]

    assert anomalies == [[]] * len(NODES)
    assert stage.flush(at(60)) == []


def test_samples_in_any_order() -> None:
    stage = PeerStage()
    anomalies = []
    for step in range(10):
        join(stage, NODES, step)
    # All nodes of step 1 before step 0 of the last node: step 0 must be scored first.
    for step in range(10):
        for node in reversed(NODES):
            anomalies += stage.process(gpu_sample(node, step, clock=CLOCK * 0.9 if node == "r000-n05" else CLOCK))

    assert [anomaly.entity for anomaly in anomalies] == ["r000-n05"]


def test_missing_node_scored_after_watermark() -> None:
    stage = PeerStage(lateness_seconds=5.0)
    anomalies = []
    for step in range(10):
        join(stage, NODES, step)
        # r000-n00 never sends GPU samples, so no step is complete without the watermark.
        for node in NODES[1:]:
            anomalies += stage.process(gpu_sample(node, step, clock=CLOCK * 0.9 if node == "r000-n04" else CLOCK))

    assert anomalies == []
    flushed = stage.flush(at(20))
    assert [anomaly.entity for anomaly in flushed] == ["r000-n04"]


def test_late_sample_dropped() -> None:
    stage = PeerStage()
    run_steps(stage, NODES, range(5))

    assert stage.process(gpu_sample(NODES[0], 2)) == []
    assert stage.late_samples == 1


def test_engine_runs_peer_stage() -> None:
    engine = DetectionEngine(rules=[])
    anomalies = []

    for step in range(10):
        anomalies += engine.process([progress(node, rank, step) for rank, node in enumerate(NODES)])
        anomalies += engine.process([gpu_sample(node, step, clock=CLOCK * 0.9 if node == "r000-n02" else CLOCK) for node in NODES])

    assert [(anomaly.detector, anomaly.entity) for anomaly in anomalies] == [("peers.deviation", "r000-n02")]


def test_membership_drops_stale_node() -> None:
    membership = JobMembership(stale_seconds=30)
    for seconds in range(0, 44, 2):
        for rank, node in enumerate(NODES if seconds < 10 else NODES[:-1]):
            membership.observe(progress(node, rank, seconds))

    assert NODES[-1] not in membership.members("job-1")
    assert membership.job_of(NODES[-1]) is None
    assert membership.job_of(NODES[0]) == "job-1"


def test_membership_node_moves_job() -> None:
    membership = JobMembership()
    membership.observe(progress("a", 0, 0, job="job-1"))
    membership.observe(progress("a", 0, 1, job="job-2"))

    assert membership.members("job-1") == ()
    assert membership.job_of("a") == "job-2"


def test_emulated_straggler_found_in_time() -> None:
    from pathlib import Path

    from emulators.clock import simulated_ticks
    from emulators.faults.scenario import load_scenario
    from emulators.run import build_emulator
    from emulators.topology import load_topology
    from pipeline import topics

    root = Path(__file__).resolve().parents[2]
    emulator = build_emulator(
        load_topology(root / "emulators" / "topologies" / "small.yaml"), seed=0,
        scenario=load_scenario(root / "emulators" / "scenarios" / "straggler.yaml"),
    )
    stage = PeerStage()
    anomalies = []
    for now in simulated_ticks(START, 1.0, 60 + 120):
        for record in emulator.sample(now):
            if record.topic == topics.JOB_PROGRESS:
                stage.observe_progress(JobProgress.model_validate(record.value))
            elif record.topic == topics.GPU:
                anomalies += stage.process(GpuTelemetry.model_validate(record.value))

    assert [anomaly.entity for anomaly in anomalies] == ["r000-n02"]
    assert anomalies[0].time - at(60) <= timedelta(seconds=120)


def test_faster_nodes_not_reported() -> None:
    # Half the job runs cooler and a little faster than the rest: nothing is slow.
    fast = {node: CLOCK * 1.08 for node in NODES[:2]}

    assert run_steps(PeerStage(), NODES, range(20), slow=fast) == []


def test_no_comparison_during_planned_stop() -> None:
    stage = PeerStage()
    stage.observe_goodput(goodput("isolating", 0.0))

    during = run_steps(stage, NODES, range(10), slow={"r000-n03": CLOCK * 0.2})
    stage.observe_goodput(goodput("running", 10.0))
    after = run_steps(stage, NODES, range(10, 20), slow={"r000-n03": CLOCK * 0.2})

    assert during == []
    assert [anomaly.entity for anomaly in after] == ["r000-n03"]


def goodput(state: str, seconds: float) -> JobGoodput:
    return JobGoodput.model_validate({
        "schema_version": 1, "time": at(seconds).isoformat(), "job": "job-1", "state": state, "step": 0, "checkpoint_step": 0,
        "nodes": len(NODES), "interruptions": 0, "ettr": 1.0, "elapsed_seconds": seconds, "productive_seconds": seconds,
        **{f"{kind}_seconds": 0.0 for kind in ("detection", "isolation", "restart", "replayed", "checkpoint", "slow_step", "paused")},
    })


def test_spare_not_compared_before_it_joined() -> None:
    # The worker reads the spare's first progress (second 30) before its idle GPU samples of seconds 0 to 19.
    stage = PeerStage()
    spare = "r001-n03"
    for second in range(20):
        join(stage, NODES, second)
    stage.observe_progress(progress(spare, len(NODES), 30.0))

    anomalies = []
    for second in range(20):
        for node in [*NODES, spare]:
            anomalies += stage.process(gpu_sample(node, second, clock=345.0 if node == spare else CLOCK))

    assert anomalies == []


def test_membership_joined_by_time() -> None:
    membership = JobMembership()
    membership.observe(progress("r000-n00", 0, 10.0))
    membership.observe(progress("r000-n01", 1, 40.0))

    assert membership.members("job-1", at=at(20)) == ("r000-n00",)
    assert membership.job_of("r000-n01", at=at(20)) is None
    assert membership.job_of("r000-n01", at=at(40)) == "job-1"
