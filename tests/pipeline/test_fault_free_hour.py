"""A fault-free hour of the 64-GPU emulator raises nothing from peer comparison or the trained model."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from detectors.command import read_training_csv
from detectors.multivariate import IsolationForestDetector, train
from emulators.clock import simulated_ticks
from emulators.export_csv import export_gpu_rows
from emulators.run import build_emulator
from emulators.topology import load_topology
from pipeline import topics
from pipeline.detection.model_stage import ModelStage
from pipeline.detection.peer_stage import PeerStage
from pipeline.schemas import GpuTelemetry, JobProgress

SMALL = load_topology(Path(__file__).resolve().parents[2] / "emulators" / "topologies" / "small.yaml")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOUR = 3600
# One model call per minute of samples, as a worker batch of that size would make.
BATCH_SAMPLES = 60


@pytest.fixture(scope="module")
def model_stage(tmp_path_factory: pytest.TempPathFactory) -> ModelStage:
    """A model trained on ten minutes of another seed, exported the way users export it."""
    path = tmp_path_factory.mktemp("training") / "healthy.csv"
    export_gpu_rows(build_emulator(SMALL, seed=11), simulated_ticks(START, 1.0, 600), path)
    matrix, names = read_training_csv(path)
    return ModelStage(train(matrix, names, detector=IsolationForestDetector(n_estimators=100)))


def test_fault_free_hour_no_anomaly(model_stage: ModelStage) -> None:
    emulator = build_emulator(SMALL, seed=0)
    peers = PeerStage()
    anomalies = []
    batch: list[GpuTelemetry] = []
    compared = 0

    for index, now in enumerate(simulated_ticks(START, 1.0, HOUR)):
        for record in emulator.sample(now):
            if record.topic == topics.JOB_PROGRESS:
                peers.observe_progress(JobProgress.model_validate(record.value))
            elif record.topic == topics.GPU:
                message = GpuTelemetry.model_validate(record.value)
                anomalies += peers.process(message)
                batch.append(message)
                compared += peers.membership.job_of(message.node) is not None
        anomalies += peers.flush(now)
        if (index + 1) % BATCH_SAMPLES == 0:
            anomalies += model_stage.process(batch)
            batch = []

    # 7 job nodes are compared at nearly every sample; the spare never is.
    assert compared >= 7 * (HOUR - 10)
    assert peers.late_samples == 0
    assert anomalies == []
