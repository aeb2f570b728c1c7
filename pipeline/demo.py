"""``qianliyan demo``: a faulty training job with and without automatic fault tolerance.

The demo runs the same seeded scenario twice on the 64-GPU topology:

1. through the whole pipeline: emulator → Kafka → worker (detect, correlate, decide) →
   ``actions`` → the emulated controller, which restarts the job on a hot spare;
2. without the pipeline: no one acts for the rest of the run (the emulated operator would
   step in only after 30 minutes).

It prints each run's effective training time ratio (ETTR) with its badput breakdown, and
what the worker wrote to InfluxDB.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from emulators.faults.scenario import load_scenario
from emulators.run import EmulationResult, run_emulation
from emulators.topology import load_topology
from pipeline.errors import QianliyanError
from pipeline.kafka_admin import delete_run_topics
from pipeline.settings import Settings
from pipeline.sinks import influxql

logger = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DEMO_TOPOLOGY = PACKAGE_ROOT / "emulators" / "topologies" / "small.yaml"
DEMO_SCENARIO = PACKAGE_ROOT / "emulators" / "scenarios" / "gpu-fell-off-bus.yaml"
WORKER_START_SECONDS = 10.0
WORKER_STOP_TIMEOUT_SECONDS = 30.0
CATCH_UP_TIMEOUT_SECONDS = 60.0
LOSS_KINDS = ("detection", "isolation", "restart", "replayed", "checkpoint", "slow_step", "paused")


def run_demo(settings: Settings, *, samples: int, speed: float, seed: int, scenario_path: Path | None = None) -> None:
    """Run the scenario with and without the pipeline and print the comparison."""
    topology = load_topology(DEMO_TOPOLOGY)
    scenario = load_scenario(scenario_path or DEMO_SCENARIO)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=samples)
    print(f"scenario {scenario_path or DEMO_SCENARIO}: {len(scenario.faults)} fault(s) on {topology.gpu_count} GPUs, "
          f"{samples} simulated seconds at {speed:g}x real time")

    # Topics and consumer group of this run alone, so an earlier demo cannot leak into it.
    run_id = uuid.uuid4().hex[:8]
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"{settings.kafka.topic_prefix}demo-{run_id}."})
    env = dict(
        os.environ,
        QIANLIYAN_TOPOLOGY_FILE=str(DEMO_TOPOLOGY),
        QIANLIYAN_KAFKA__TOPIC_PREFIX=kafka.topic_prefix,
        QIANLIYAN_APP_ID=f"qianliyan-demo-{run_id}",
        QIANLIYAN_LOG_LEVEL="WARNING",
    )
    log_path = Path(tempfile.gettempdir()) / f"qianliyan-demo-{run_id}-worker.log"
    print(f"worker log: {log_path}")
    with log_path.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    logger.info("demo worker started pid=%d log=%s", worker.pid, log_path)
    try:
        try:
            time.sleep(WORKER_START_SECONDS)
            if worker.poll() is not None:
                raise QianliyanError(f"the worker exited with status {worker.returncode}; its log is above")
            automatic = run_emulation(
                kafka, topology, seed=seed, samples=samples, start=start, scenario=scenario, controller=True, speed=speed,
            )
            _wait_for_incidents(settings, start, worker)
        finally:
            _stop(worker)

        manual = run_emulation(
            kafka.model_copy(update={"topic_prefix": f"{kafka.topic_prefix}manual."}),
            topology, seed=seed, samples=samples, start=start, scenario=scenario,
        )
    finally:
        # Both runs' topics share the run's prefix, and Faust's own topics its group.
        delete_run_topics(kafka, env["QIANLIYAN_APP_ID"])
    _print_comparison(automatic, manual)
    _print_influxdb(settings, start)


def _wait_for_incidents(settings: Settings, start: datetime, worker: subprocess.Popen[bytes]) -> None:
    where = f"time >= '{_stamp(start)}'"
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise QianliyanError(f"the worker exited with status {worker.returncode}; its log is above")
        if influxql.count(settings.influxdb, "incident", "incident_id", where) > 0:
            return
        time.sleep(1.0)
    logger.warning("no incident reached InfluxDB within %.0f s of the run's end", CATCH_UP_TIMEOUT_SECONDS)


def _print_comparison(automatic: EmulationResult, manual: EmulationResult) -> None:
    print("\n                      automatic    no action")
    rows: list[tuple[str, Any, Any]] = [
        ("ETTR", f"{automatic.goodput.get('ettr', 0):.2%}", f"{manual.goodput.get('ettr', 0):.2%}"),
        ("interruptions", automatic.goodput.get("interruptions", 0), manual.goodput.get("interruptions", 0)),
        ("actions applied", automatic.actions_applied, 0),
        ("final job state", automatic.goodput.get("state", "?"), manual.goodput.get("state", "?")),
    ]
    for kind in LOSS_KINDS:
        key = f"{kind}_seconds"
        rows.append((f"lost to {kind} (s)", f"{automatic.goodput.get(key, 0):.1f}", f"{manual.goodput.get(key, 0):.1f}"))
    for name, left, right in rows:
        print(f"  {name:<20} {left!s:>10}    {right!s:>10}")


def _print_influxdb(settings: Settings, start: datetime) -> None:
    where = f"time >= '{_stamp(start)}'"
    print(f"\nWritten to InfluxDB database {influxql.database_of(settings.influxdb)!r} by the automatic run:")
    for measurement, field in (("anomaly", "score"), ("incident", "incident_id"), ("action", "action_id"), ("job_accounting", "ettr")):
        print(f"  {measurement:<15} {influxql.count(settings.influxdb, measurement, field, where):>6} points")
    rows = influxql.query(settings.influxdb, f'SELECT "kind", "target", "reason" FROM "action" WHERE {where} AND "status" = \'issued\'')
    for series in rows:
        for _, kind, target, reason in series["values"]:
            print(f"  action {kind} on {target}: {reason}")


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


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

