"""``qianliyan evaluate --pipeline`` against the real services: a short scenario, one NAB series and a short fault-free run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from tests.integration.conftest import INFLUXDB_URL, KAFKA_ADDRESS, PROJECT_ROOT

pytestmark = pytest.mark.integration

SCENARIO = PROJECT_ROOT / "emulators" / "scenarios" / "gpu-fell-off-bus.yaml"
NAB_SERIES = "realTraffic/speed_7578"
SAMPLES = 200
FAULT_FREE_SAMPLES = 120


STOPPED_LINE = re.compile(r"^(?P<part>\S+): worker stopped, (?P<count>\d+) Kafka topics deleted \((?P<prefix>\S+)\*, (?P<group>\S+)-\*\)$")


def command_env() -> dict[str, str]:
    return dict(
        os.environ,
        QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS=f"{KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}",
        QIANLIYAN_INFLUXDB__URL=INFLUXDB_URL,
        COLUMNS="120",
    )


def leftover_topics(prefixes: list[str], wait_seconds: float = 20.0) -> list[str]:
    """Return the broker's topics that start with one of ``prefixes``, after waiting up to ``wait_seconds`` for none to be left."""
    admin = KafkaAdminClient(bootstrap_servers=[f"{KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}"], client_id="qianliyan-test")
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            left = sorted(name for name in admin.list_topics() if name.startswith(tuple(prefixes)))
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(1.0)  # Kafka deletes topics asynchronously
    finally:
        admin.close()


def test_evaluate_pipeline_command(services: None, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    env = command_env()
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
    assert "emulator: published" in done.stderr
    assert "waiting for the worker" in done.stderr

    emulator = results["emulator"]
    kinds = {row["kind"]: row for row in emulator["kinds"]}
    assert emulator["scenario"] == SCENARIO.name
    assert emulator["samples"] == SAMPLES
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
    assert emulator["seconds"] > 0
    assert emulator["wait_seconds"] > 0

    nab = results["nab"]
    assert nab["messages"] == 1127
    assert nab["anomalies"] > 0
    assert [file["name"] for file in nab["corpus"]["files"]] == [f"{NAB_SERIES}.csv"]
    assert nab["corpus"]["files"][0]["true_positives"] + nab["corpus"]["files"][0]["false_negatives"] == 4
    assert nab["corpus"]["normalized"] > 0
    assert nab["targets"] == []

    fault_free = results["fault-free"]
    assert fault_free["samples"] == FAULT_FREE_SAMPLES
    assert fault_free["gpus"] == 64
    assert fault_free["faults_started"] == 0
    assert fault_free["messages"] > 0
    assert fault_free["anomalies"] == sum(source["anomalies"] for source in fault_free["sources"])
    [target] = fault_free["targets"]
    assert target["name"] == "anomalies without faults"
    assert target["figure"] == fault_free["anomalies"]
    assert target["goal"] == 0
    assert target["status"] == ("met" if fault_free["anomalies"] == 0 else "NOT met")

    kept = sorted(path.name.split("-")[0] for path in keep.iterdir())
    assert kept.count("worker") == 3
    assert kept.count("truth") == 2
    assert kept.count("anomalies") == 2

    stopped = [match for line in done.stderr.splitlines() if (match := STOPPED_LINE.match(line))]
    assert [match["part"] for match in stopped] == ["emulator", "nab", "fault-free"]
    assert all(int(match["count"]) >= 14 for match in stopped), [match.group(0) for match in stopped]
    assert all(match["prefix"].startswith("eval-") for match in stopped)
    assert all(match["group"].startswith(f"eval-{match['part']}-") for match in stopped)
    assert leftover_topics([match["prefix"] for match in stopped] + [f"{match['group']}-" for match in stopped]) == []


def test_evaluate_pipeline_no_fault_started(services: None, tmp_path: Path) -> None:
    # The scenario's only fault starts at 60 s, after the 30 samples of this run.
    command = [
        sys.executable, "-m", "pipeline.cli", "evaluate", "--pipeline", "--part", "emulator",
        "--scenario", str(SCENARIO), "--samples", "30", "--speed", "0",
        "--quiet", "3", "--timeout", "90", "--json", "--check-targets",
    ]

    done = subprocess.run(command, cwd=PROJECT_ROOT, env=command_env(), capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr[-4000:]  # "not measured" passes --check-targets
    warnings = [line for line in done.stderr.splitlines() if "warning: no fault" in line]
    assert warnings == [
        "emulator: warning: no fault of gpu-fell-off-bus.yaml started within the 30 samples (its first fault starts at 60 s), "
        "so precision, recall and time to detect are not measured; leave out --samples to run to the end of the scenario"
    ]
    emulator = json.loads(done.stdout)["emulator"]
    assert emulator["samples"] == 30
    assert emulator["faults_started"] == 0
    targets = {target["name"]: target for target in emulator["targets"]}
    assert {name: target["status"] for name, target in targets.items()} == {
        "precision": "not measured", "recall": "not measured",
        "TTD p50 instant": "not measured", "TTD p50 hang": "not measured", "TTD p50 fail-slow": "not measured",
    }
    assert targets["precision"]["figure"] is None
    assert "error:" not in done.stderr
