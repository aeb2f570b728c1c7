"""Worker start and stop: a missing database is created, and a stop does not wait on InfluxDB."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from emulators.run import run_emulation
from emulators.topology import Topology
from pipeline.settings import Settings
from pipeline.sinks import influxql
from tests.integration.conftest import PROJECT_ROOT, settings_env, stop_process, wait_for

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker"], cwd=PROJECT_ROOT, env=settings_env(settings), stdout=handle, stderr=subprocess.STDOUT
        )


def gpu_points(settings: Settings) -> int:
    """Count the stored GPU points; 0 while the database does not exist yet."""
    try:
        return influxql.count(settings.influxdb, "gpu", "DCGM_FI_DEV_GPU_TEMP")
    except influxql.InfluxQLError:
        return 0


def test_missing_database_created_at_start(settings: Settings, tmp_path: Path) -> None:
    influxql.query(settings.influxdb, f'DROP DATABASE "{settings.influxdb.bucket}"', method="POST")
    log = tmp_path / "worker.log"
    process = start_worker(settings, log)
    try:
        run_emulation(settings.kafka, Topology(racks=1, nodes_per_rack=2), seed=1, samples=20, start=START)
        wait_for(lambda: gpu_points(settings) > 0, timeout_seconds=90, what="GPU points", worker=process, log=log)
    finally:
        stop_process(process)

    assert "InfluxDB database created" in log.read_text(errors="replace")


def test_stop_while_writes_fail(settings: Settings, tmp_path: Path) -> None:
    # A retention policy that does not exist: every write fails and is retried.
    failing = settings.model_copy(update={"influxdb": settings.influxdb.model_copy(update={"bucket": f"{settings.influxdb.bucket}/missing_rp"})})
    log = tmp_path / "worker.log"
    process = start_worker(failing, log)
    try:
        run_emulation(settings.kafka, Topology(racks=1, nodes_per_rack=2), seed=1, samples=10, start=START)
        wait_for(lambda: "InfluxDB write failed" in log.read_text(errors="replace"), timeout_seconds=90, what="a failed write", worker=process, log=log)
    finally:
        seconds = stop_process(process)

    assert seconds < 20
    assert process.returncode in (0, -15, 143)
