"""Measure the time from a fault's onset to the first action the pipeline issues for it.

The emulator runs on the wall clock, so event time and wall time agree: a fault that starts
at event time T is in the telemetry published at wall time T. One ``qianliyan worker``
detects, correlates and decides; this script reads the ``actions`` topic and notes when
each action arrives. The latency of a fault is the arrival of the first action aimed at its
node or rack, or caused by an incident about them, minus the fault's start. Needs the services from ``scripts/services.sh up``.

    .venv/bin/python benchmarks/fault_to_action.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import yaml
from kafka import KafkaConsumer

from emulators.faults.scenario import load_scenario
from emulators.run import run_emulation
from emulators.topology import load_topology
from pipeline import topics
from pipeline.kafka_admin import ensure_topics
from pipeline.settings import InfluxDBSettings, KafkaSettings
from pipeline.sinks import influxql

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "emulators" / "topologies" / "small.yaml"
# Faults with an instant onset, each on its own node or rack, 20 s apart.
FAULTS = [
    {"kind": "gpu_hard_fault", "node": "r000-n01", "gpu": 1, "start": 20, "duration": 60},
    {"kind": "hbm_uncorrectable", "node": "r000-n02", "gpu": 2, "start": 40, "duration": 60},
    {"kind": "gpu_fell_off_bus", "node": "r001-n00", "gpu": 0, "start": 60, "duration": 60},
    {"kind": "coolant_leak", "rack": "r001", "start": 80, "duration": 60},
    {"kind": "link_flap", "node": "r000-n03", "start": 100, "duration": 30},
    {"kind": "node_power_loss", "node": "r001-n02", "start": 120, "duration": 60},
]


def collect(consumer: KafkaConsumer, arrivals: list[tuple[float, dict]], places: dict[str, set[str]], stop: threading.Event) -> None:
    """Record every action with its arrival wall time, and the places of every incident, until ``stop`` is set."""
    while not stop.is_set():
        for partition, records in consumer.poll(timeout_ms=200).items():
            for record in records:
                value = json.loads(record.value)
                if partition.topic.endswith(topics.INCIDENTS):
                    incident = value["incident"]
                    places.setdefault(incident["incident_id"], set()).update(
                        name for name in (incident.get("node"), incident.get("rack"), incident["entity"]) if name
                    )
                else:
                    arrivals.append((time.time(), value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=150, help="wall-clock seconds to run the emulator (default 150)")
    parser.add_argument("--drain", type=float, default=15, help="seconds to keep reading actions after the run (default 15)")
    arguments = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(topic_prefix=f"bench-action-{run_id}.")
    influxdb = InfluxDBSettings(bucket=f"bench_action_{run_id}")
    influxql.query(influxdb, f'CREATE DATABASE "{influxdb.bucket}"', method="POST")
    ensure_topics(kafka)
    workdir = Path(tempfile.mkdtemp(prefix="qianliyan-bench-"))
    scenario_path = workdir / "faults.yaml"
    scenario_path.write_text(yaml.safe_dump({"faults": FAULTS}))
    truth_path = workdir / "truth.jsonl"

    env = dict(os.environ, QIANLIYAN_KAFKA__TOPIC_PREFIX=kafka.topic_prefix, QIANLIYAN_INFLUXDB__BUCKET=influxdb.bucket,
               QIANLIYAN_APP_ID=f"bench-action-{run_id}", QIANLIYAN_METRICS_PORT="0", QIANLIYAN_LOG_LEVEL="WARNING",
               QIANLIYAN_TOPOLOGY_FILE=str(TOPOLOGY))
    worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], cwd=ROOT, env=env)
    consumer = KafkaConsumer(
        kafka.topic(topics.ACTIONS), kafka.topic(topics.INCIDENTS), bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    arrivals: list[tuple[float, dict]] = []
    places: dict[str, set[str]] = {}
    stop = threading.Event()
    reader = threading.Thread(target=collect, args=(consumer, arrivals, places, stop), daemon=True)
    try:
        time.sleep(10)
        reader.start()
        print(f"running {arguments.samples} s of wall-clock telemetry with {len(FAULTS)} faults", flush=True)
        run_emulation(kafka, load_topology(TOPOLOGY), seed=0, samples=arguments.samples,
                      scenario=load_scenario(scenario_path), truth_path=truth_path)
        time.sleep(arguments.drain)
    finally:
        stop.set()
        reader.join(timeout=5)
        consumer.close()
        worker.terminate()
        worker.wait(timeout=60)
        influxql.query(influxdb, f'DROP DATABASE "{influxdb.bucket}"', method="POST")

    starts: dict[str, tuple[str, datetime]] = {}
    for line in truth_path.read_text().splitlines():
        record = json.loads(line)
        if record.get("end") is None and record["fault_id"] not in starts:
            starts[record["fault_id"]] = (record["entity"], datetime.fromisoformat(record["start"]).astimezone(timezone.utc))

    print(f"hardware: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}")
    print(f"{'fault':<32} {'entity':<9} {'first action':<24} {'first corrective action':<30}")
    latencies: dict[str, list[float]] = {"any": [], "corrective": []}
    for fault_id, (entity, start) in sorted(starts.items(), key=lambda item: item[1][1]):
        matches = sorted(
            ((arrived, action) for arrived, action in arrivals
             if (action["target"] == entity or entity in places.get(action["incident_id"], set())) and arrived >= start.timestamp() - 1),
            key=lambda match: match[0],
        )
        cells = []
        for name, candidates in (("any", matches), ("corrective", [m for m in matches if m[1]["kind"] not in ("warn", "page")])):
            if not candidates:
                cells.append("none")
                continue
            arrived, action = candidates[0]
            latencies[name].append(arrived - start.timestamp())
            cells.append(f"{action['kind']} {arrived - start.timestamp():.1f} s")
        print(f"{fault_id:<32} {entity:<9} {cells[0]:<24} {cells[1]:<30}")
    for name, values in latencies.items():
        if values:
            print(f"{name} action: {len(values)} of {len(starts)} faults, "
                  f"wall latency p50 {statistics.median(values):.1f} s, max {max(values):.1f} s")


if __name__ == "__main__":
    main()
