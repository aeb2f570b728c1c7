"""``qianliyan evaluate --pipeline`` against the real services: a short scenario, one NAB series and a short fault-free run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import INFLUXDB_URL, KAFKA_ADDRESS, PROJECT_ROOT

pytestmark = pytest.mark.integration

SCENARIO = PROJECT_ROOT / "emulators" / "scenarios" / "gpu-fell-off-bus.yaml"
NAB_SERIES = "realTraffic/speed_7578"
SAMPLES = 200
FAULT_FREE_SAMPLES = 120


def test_evaluate_pipeline_command(services: None, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    env = dict(
        os.environ,
        QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS=f"{KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}",
        QIANLIYAN_INFLUXDB__URL=INFLUXDB_URL,
        COLUMNS="120",
    )
    command = [
        sys.executable, "-m", "pipeline.cli", "evaluate", "--pipeline",
        "--part", "emulator", "--part", "nab", "--part", "fault-free",
        "--scenario", str(SCENARIO), "--samples", str(SAMPLES),
        "--nab-series", NAB_SERIES,
        "--fault-free-samples", str(FAULT_FREE_SAMPLES),
        "--quiet", "3", "--timeout", "90", "--keep", str(keep), "--json",
    ]

    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=280)

    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout)  # JSON only on standard output, progress on standard error
    assert list(results) == ["emulator", "nab", "fault-free"]
    assert "emulator: published" in done.stderr and "waiting for the worker" in done.stderr

    emulator = results["emulator"]
    kinds = {row["kind"]: row for row in emulator["kinds"]}
    assert emulator["scenario"] == SCENARIO.name and emulator["samples"] == SAMPLES
    assert set(kinds) == {"gpu_fell_off_bus", "all"}
    assert kinds["gpu_fell_off_bus"]["faults"] == 1
    assert kinds["gpu_fell_off_bus"]["recall"] == 1.0
    assert kinds["gpu_fell_off_bus"]["detect_seconds_median"] is not None
    assert kinds["gpu_fell_off_bus"]["detect_seconds_median"] < SAMPLES
    targets = {target["name"]: target for target in emulator["targets"]}
    assert list(targets) == ["precision", "recall", "TTD p50 instant", "TTD p50 hang", "TTD p50 fail-slow"]
    assert targets["recall"] == {
        "name": "recall", "figure": 1.0, "comparison": ">=", "goal": 0.95, "unit": "", "status": "met",
        "note": targets["recall"]["note"], "kinds": [],
    }
    assert targets["TTD p50 instant"]["kinds"] == ["gpu_fell_off_bus"]
    assert targets["TTD p50 instant"]["figure"] == kinds["gpu_fell_off_bus"]["detect_seconds_median"]
    assert targets["TTD p50 hang"]["status"] == "not measured"
    assert emulator["seconds"] > 0 and emulator["wait_seconds"] > 0

    nab = results["nab"]
    assert nab["messages"] == 1127
    assert nab["anomalies"] > 0
    assert [file["name"] for file in nab["corpus"]["files"]] == [f"{NAB_SERIES}.csv"]
    assert nab["corpus"]["files"][0]["true_positives"] + nab["corpus"]["files"][0]["false_negatives"] == 4
    assert nab["corpus"]["normalized"] > 0
    assert nab["targets"] == []

    fault_free = results["fault-free"]
    assert fault_free["samples"] == FAULT_FREE_SAMPLES and fault_free["gpus"] == 64
    assert fault_free["faults_started"] == 0
    assert fault_free["messages"] > 0
    assert fault_free["anomalies"] == sum(source["anomalies"] for source in fault_free["sources"])
    [target] = fault_free["targets"]
    assert target["name"] == "anomalies without faults" and target["figure"] == fault_free["anomalies"] and target["goal"] == 0
    assert target["status"] == ("met" if fault_free["anomalies"] == 0 else "NOT met")

    kept = sorted(path.name.split("-")[0] for path in keep.iterdir())
    assert kept.count("worker") == 3 and kept.count("truth") == 2 and kept.count("anomalies") == 2
