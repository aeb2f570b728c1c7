"""Measure how fast one worker moves emulated telemetry from Kafka into InfluxDB.

Needs the services from ``scripts/services.sh up``. The run uses a topic prefix, consumer
group and InfluxDB database of its own and drops the database at the end.

    .venv/bin/python benchmarks/pipeline_throughput.py --samples 300 --racks 4
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from emulators.run import run_emulation
from emulators.topology import Topology
from pipeline.settings import InfluxDBSettings, KafkaSettings
from pipeline.sinks import influxql

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rolled_up_gpu_samples(influxdb: InfluxDBSettings) -> int:
    """Return how many GPU samples the worker's 10 s rollups cover so far."""
    series = influxql.query(influxdb, 'SELECT sum("samples") FROM "gpu" WHERE "resolution" = \'10s\'')
    return int(series[0]["values"][0][1]) if series else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300, help="simulated seconds to publish (default 300)")
    parser.add_argument("--racks", type=int, default=2, help="racks of 4 nodes x 8 GPUs (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the worker (default 600)")
    arguments = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(topic_prefix=f"bench-{run_id}.")
    influxdb = InfluxDBSettings(bucket=f"bench_{run_id}")
    influxql.query(influxdb, f'CREATE DATABASE "{influxdb.bucket}"', method="POST")
    topology = Topology(racks=arguments.racks)
    expected = arguments.samples * topology.gpu_count

    env = dict(os.environ, QIANLIYAN_KAFKA__TOPIC_PREFIX=kafka.topic_prefix, QIANLIYAN_INFLUXDB__BUCKET=influxdb.bucket,
               QIANLIYAN_APP_ID=f"bench-{run_id}", QIANLIYAN_METRICS_PORT="0", QIANLIYAN_LOG_LEVEL="WARNING")
    worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], cwd=ROOT, env=env)
    try:
        published = run_emulation(kafka, topology, seed=0, samples=arguments.samples, start=START)
        started = time.perf_counter() - published.wall_seconds
        stored = 0
        deadline = time.monotonic() + arguments.timeout
        while stored < expected and time.monotonic() < deadline:
            time.sleep(0.5)
            stored = rolled_up_gpu_samples(influxdb)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        influxql.query(influxdb, f'DROP DATABASE "{influxdb.bucket}"', method="POST")

    print(f"hardware: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"cluster: {topology.racks} racks, {topology.node_count} nodes, {topology.gpu_count} GPUs; {arguments.samples} simulated seconds")
    print(f"published {published.records} messages in {published.wall_seconds:.1f} s ({published.records / published.wall_seconds:,.0f} messages/s)")
    if stored < expected:
        print(f"timed out: rollups of {stored} of {expected} GPU samples stored after {arguments.timeout:.0f} s")
        raise SystemExit(1)
    print(f"stored the rollups of all {expected} GPU samples {elapsed:.1f} s after the first publish: "
          f"{published.records / elapsed:,.0f} messages/s, {arguments.samples / elapsed:.1f} simulated seconds per second")


if __name__ == "__main__":
    main()
