"""Evaluation through the real pipeline: a small scenario and one NAB series, scored from the anomalies topic."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from benchmarks.evaluate_pipeline import START, WorkerHandle, emulator_scores, nab_file, read_anomalies, replay_source, wait_until_caught_up
from detectors.evaluation.datasets import DEFAULT_DATA_ROOT, nab_root
from detectors.evaluation.nab import load_profiles, score_corpus
from emulators.faults.scenario import load_scenario
from emulators.replay.sources import ReplayOptions, SourceKind
from emulators.run import run_emulation
from emulators.topology import load_topology
from pipeline.schemas import FaultTruth
from pipeline.settings import Settings
from tests.integration.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

SCENARIO = PROJECT_ROOT / "emulators" / "scenarios" / "gpu-fell-off-bus.yaml"
TOPOLOGY = PROJECT_ROOT / "emulators" / "topologies" / "small.yaml"
NAB_SERIES = "realTraffic/speed_7578"
SAMPLES = 200


def test_pipeline_scores_scenario_and_nab(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    handle = WorkerHandle(settings.kafka, settings.app_id, worker, tmp_path / "worker.log")
    topology = load_topology(TOPOLOGY)
    truth_path = tmp_path / "truth.jsonl"
    run_emulation(settings.kafka, topology, seed=0, samples=SAMPLES, start=START, scenario=load_scenario(SCENARIO), truth_path=truth_path)
    # NAB keeps its own 2015 times here, before the emulator's clock, so that its rows do
    # not move the engine's watermark past the emulated job.
    capture, messages = replay_source(handle, SourceKind.NAB, nab_root(DEFAULT_DATA_ROOT), ReplayOptions(series=NAB_SERIES))
    wait_until_caught_up(handle, timeout_seconds=40, quiet_seconds=4)

    anomalies = read_anomalies(settings.kafka, tmp_path / "anomalies.jsonl")
    truth = [FaultTruth.model_validate_json(line) for line in truth_path.read_text().splitlines() if line.strip()]
    kinds = {row.kind: row for row in emulator_scores(truth, anomalies, topology, end_of_run=START + timedelta(seconds=SAMPLES))}
    profile = load_profiles(nab_root(DEFAULT_DATA_ROOT) / "config" / "profiles.json")["standard"]
    corpus = score_corpus([nab_file(NAB_SERIES, capture, anomalies)], profile, threshold=1.0)

    assert messages == 1127
    assert set(kinds) == {"gpu_fell_off_bus", "all"}
    assert kinds["gpu_fell_off_bus"].faults == 1
    assert kinds["gpu_fell_off_bus"].recall == 1.0
    assert kinds["gpu_fell_off_bus"].detect_seconds_median is not None
    assert kinds["gpu_fell_off_bus"].detect_seconds_median < SAMPLES
    assert any(anomaly.entity_kind == "series" and anomaly.entity == NAB_SERIES for anomaly in anomalies)
    assert len(corpus.files) == 1
    assert corpus.files[0].true_positives + corpus.files[0].false_negatives == 4
    assert corpus.normalized > 0
