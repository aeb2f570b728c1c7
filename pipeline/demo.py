"""``qianliyan demo``: emulator and worker together, then a look at InfluxDB."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from datetime import timedelta

from emulators.run import run_emulation
from emulators.topology import Topology
from pipeline.errors import QianliyanError
from pipeline.settings import Settings
from pipeline.sinks import influxql

logger = logging.getLogger(__name__)

CATCH_UP_TIMEOUT_SECONDS = 120.0
WORKER_STOP_TIMEOUT_SECONDS = 30.0
ROLLED_UP = ("gpu", "cooling", "dpu", "power", "power_supply")


def run_demo(settings: Settings, *, seconds: int, seed: int) -> None:
    """Publish ``seconds`` samples in real time through a worker subprocess and print the result."""
    worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"])
    logger.info("demo worker started pid=%d", worker.pid)
    try:
        topology = Topology()
        result = run_emulation(settings.kafka, topology, seed=seed, samples=seconds)
        if result.first_time is None:
            raise QianliyanError("the emulator published nothing")
        # Rollups are stamped with the start of their window, which may precede the first sample.
        window_start = result.first_time - timedelta(seconds=settings.storage.rollup_seconds)
        since = f"time >= '{window_start.isoformat().replace('+00:00', 'Z')}'"
        expected = result.samples * topology.gpu_count
        _wait_for_samples(settings, since, expected, worker)
        _print_summary(settings, since)
    finally:
        _stop(worker)


def _rolled_up_samples(settings: Settings, measurement: str, where: str) -> int:
    series = influxql.query(settings.influxdb, f'SELECT sum("samples") FROM "{measurement}" WHERE {where} AND "resolution" = \'{settings.storage.rollup_seconds}s\'')
    return int(series[0]["values"][0][1]) if series else 0


def _wait_for_samples(settings: Settings, where: str, expected: int, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    found = 0
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise QianliyanError(f"the worker exited with status {worker.returncode}; its log is above")
        found = _rolled_up_samples(settings, "gpu", where)
        if found >= expected:
            return
        time.sleep(1.0)
    raise QianliyanError(
        f"timed out after {CATCH_UP_TIMEOUT_SECONDS:.0f} s waiting for the worker: "
        f"{found} of {expected} GPU samples reached InfluxDB rollups"
    )


def _print_summary(settings: Settings, where: str) -> None:
    resolution = f"{settings.storage.rollup_seconds}s"
    print(f"\nSamples in InfluxDB database {influxql.database_of(settings.influxdb)!r}, rolled up into {resolution} windows:")
    for measurement in ROLLED_UP:
        print(f"  {measurement:<14} {_rolled_up_samples(settings, measurement, where):>8}")
    print(f"  {'job_progress':<14} {influxql.count(settings.influxdb, 'job_progress', 'step', where):>8}")
    print(f"  {'anomaly':<14} {influxql.count(settings.influxdb, 'anomaly', 'score', where):>8}")
    statement = (
        f'SELECT mean("DCGM_FI_DEV_GPU_TEMP"), max("DCGM_FI_DEV_POWER_USAGE_max") FROM "gpu" '
        f"WHERE {where} AND \"resolution\" = '{resolution}' GROUP BY \"node\""
    )
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
