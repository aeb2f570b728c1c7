"""``qianliyan demo``: emulator and worker together, then a look at InfluxDB."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

from emulators.run import run_emulation
from emulators.topology import Topology
from pipeline.errors import QianliyanError
from pipeline.settings import Settings
from pipeline.sinks import influxql

logger = logging.getLogger(__name__)

CATCH_UP_TIMEOUT_SECONDS = 120.0
WORKER_STOP_TIMEOUT_SECONDS = 30.0
# One field that every point of each measurement carries, for counting points.
COUNTED_FIELDS = {
    "gpu": "DCGM_FI_DEV_GPU_TEMP",
    "cooling": "FlowLitersPerMinute",
    "dpu": "link_up",
    "power": "PowerWatts",
    "power_supply": "health",
    "job_progress": "step",
}


def run_demo(settings: Settings, *, seconds: int, seed: int) -> None:
    """Publish ``seconds`` samples in real time through a worker subprocess and print the result."""
    worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"])
    logger.info("demo worker started pid=%d", worker.pid)
    try:
        topology = Topology()
        result = run_emulation(settings.kafka, topology, seed=seed, samples=seconds)
        if result.first_time is None:
            raise QianliyanError("the emulator published nothing")
        since = f"time >= '{result.first_time.isoformat().replace('+00:00', 'Z')}'"
        expected = result.samples * topology.gpu_count
        _wait_for_points(settings, "gpu", COUNTED_FIELDS["gpu"], since, expected, worker)
        _print_summary(settings, since)
    finally:
        _stop(worker)


def _wait_for_points(settings: Settings, measurement: str, field: str, where: str, expected: int, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    found = 0
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise QianliyanError(f"the worker exited with status {worker.returncode}; its log is above")
        found = influxql.count(settings.influxdb, measurement, field, where)
        if found >= expected:
            return
        time.sleep(1.0)
    raise QianliyanError(
        f"timed out after {CATCH_UP_TIMEOUT_SECONDS:.0f} s waiting for the worker: "
        f"{found} of {expected} {measurement} points reached InfluxDB"
    )


def _print_summary(settings: Settings, where: str) -> None:
    print(f"\nPoints written to InfluxDB database {influxql.database_of(settings.influxdb)!r} by this demo:")
    for measurement, field in COUNTED_FIELDS.items():
        print(f"  {measurement:<14} {influxql.count(settings.influxdb, measurement, field, where):>8}")
    statement = f'SELECT mean("DCGM_FI_DEV_GPU_TEMP"), max("DCGM_FI_DEV_POWER_USAGE") FROM "gpu" WHERE {where} GROUP BY "node"'
    print(f"\n{statement}")
    for series in influxql.query(settings.influxdb, statement):
        _, mean_temp, max_power = series["values"][0]
        print(f"  node={series['tags']['node']:<10} mean GPU temperature {mean_temp:6.1f} C, max power {max_power:6.1f} W")


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("worker did not stop within %.0f s, killing it pid=%d", WORKER_STOP_TIMEOUT_SECONDS, worker.pid)
        worker.kill()
        worker.wait()
