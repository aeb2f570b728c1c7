from datetime import datetime, timedelta, timezone

from emulators.cluster import ClusterEmulator
from emulators.topology import Topology
from pipeline.detection.engine import DetectionEngine, default_rules, state_key
from pipeline.detection.job_stage import JobStage
from pipeline.schemas import GpuTelemetry, JobProgress, model_for_topic
from tests.factories import gpu_message

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def progress(job: str, rank: int, step: int, seconds: float, at: float) -> JobProgress:
    return JobProgress.model_validate({
        "schema_version": 1, "time": (START + timedelta(seconds=at)).isoformat(), "job": job,
        "node": f"n{rank}", "rank": rank, "step": step, "step_time_seconds": seconds,
    })


def test_default_rules_found() -> None:
    names = {rule.name for rule in default_rules()}

    assert {"rule.xid", "rule.ecc"} <= names


def test_state_key_prefers_node() -> None:
    assert state_key(GpuTelemetry.model_validate(gpu_message())) == "r000-n00"


def test_healthy_cluster_no_anomaly() -> None:
    emulator = ClusterEmulator(Topology(racks=1, nodes_per_rack=4), seed=5)
    engine = DetectionEngine()
    anomalies = []

    for index in range(300):
        records = emulator.sample(START + timedelta(seconds=index))
        anomalies += engine.process([model_for_topic(record.topic).model_validate(record.value) for record in records])

    assert anomalies == []


def test_gpu_stats_flags_sudden_heat() -> None:
    engine = DetectionEngine(rules=[])
    anomalies = []

    for index in range(80):
        gpus = [{"gpu": gpu, "DCGM_FI_DEV_GPU_TEMP": 60.0 + gpu * 0.3 + (index % 3) * 0.5} for gpu in range(8)]
        gpus[0]["DCGM_FI_DEV_GPU_TEMP"] += 25.0 if index >= 70 else 0.0
        message = gpu_message(time=(START + timedelta(seconds=index)).isoformat(), gpus=gpus)
        anomalies += engine.process([GpuTelemetry.model_validate(message)])

    assert len(anomalies) == 1
    assert anomalies[0].gpu == 0
    assert anomalies[0].evidence["field"] == "DCGM_FI_DEV_GPU_TEMP"
    assert anomalies[0].fault_class == "gpu_thermal"


def test_gpu_stats_ignores_node_wide_dip() -> None:
    engine = DetectionEngine(rules=[])
    anomalies = []

    for index in range(80):
        utilisation = 30.0 if 60 <= index < 65 else 98.0
        gpus = [{"gpu": gpu, "DCGM_FI_DEV_GPU_UTIL": utilisation - gpu * 0.1} for gpu in range(8)]
        anomalies += engine.process([GpuTelemetry.model_validate(gpu_message(time=(START + timedelta(seconds=index)).isoformat(), gpus=gpus))])

    assert anomalies == []


def test_straggler_flagged_once() -> None:
    stage = JobStage()
    anomalies = []

    for step in range(1, 40):
        for rank in range(4):
            seconds = 2.0 * (1.15 if rank == 2 and step > 10 else 1.0)
            anomalies += stage.process(progress("j1", rank, step, seconds, at=step * 2.0))

    assert [anomaly.entity for anomaly in anomalies] == ["n2"]
    assert anomalies[0].fault_class == "straggler"


def test_hang_after_silence() -> None:
    stage = JobStage(min_hang_seconds=30)
    for step in range(1, 5):
        for rank in range(4):
            stage.process(progress("j1", rank, step, 2.0, at=step * 2.0))

    assert stage.check_hangs(START + timedelta(seconds=30)) == []
    hangs = stage.check_hangs(START + timedelta(seconds=40))
    assert [anomaly.entity for anomaly in hangs] == ["j1"]
    assert stage.check_hangs(START + timedelta(seconds=50)) == []
