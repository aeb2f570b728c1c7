"""Measure how fast the emulator generates one simulated second of a large cluster.

Runs the cluster model in process, without Kafka: the time per simulated second covers the
fault injector, the job, the device physics and building every message, and, separately,
encoding the messages to JSON as the publisher does.

    .venv/bin/python benchmarks/emulator_speed.py --topology emulators/topologies/large.yaml --seconds 60
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from emulators.faults.random_process import RandomFaultConfig
from emulators.run import build_emulator
from emulators.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topology", type=Path, default=ROOT / "emulators" / "topologies" / "large.yaml", help="topology YAML (default: the 10,000-GPU one)")
    parser.add_argument("--seconds", type=int, default=60, help="simulated seconds to time (default 60)")
    parser.add_argument("--fault-rate-multiplier", type=float, default=100.0, help="random fault rates times this (default 100)")
    arguments = parser.parse_args()

    topology = load_topology(arguments.topology)
    emulator = build_emulator(topology, seed=0, random_faults=RandomFaultConfig(rate_multiplier=arguments.fault_rate_multiplier))
    emulator.sample(START)

    model_seconds = []
    encode_seconds = []
    messages = 0
    for second in range(1, arguments.seconds + 1):
        began = time.perf_counter()
        records = emulator.sample(START + timedelta(seconds=second))
        model_seconds.append(time.perf_counter() - began)
        began = time.perf_counter()
        encoded = sum(len(orjson.dumps(record.value)) for record in records)
        encode_seconds.append(time.perf_counter() - began)
        messages += len(records)

    print(f"topology: {arguments.topology.name}, {topology.gpu_count} GPUs on {topology.node_count} nodes in {topology.racks} racks")
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"simulated seconds: {arguments.seconds}, messages: {messages} ({messages / arguments.seconds:.0f} per simulated second, last one {encoded / 1e6:.1f} MB of JSON)")
    print(f"faults started: {emulator.injector.started}")
    print(f"model and messages per simulated second: median {statistics.median(model_seconds) * 1000:.0f} ms, max {max(model_seconds) * 1000:.0f} ms")
    print(f"JSON encoding per simulated second: median {statistics.median(encode_seconds) * 1000:.0f} ms")
    total = sum(model_seconds) + sum(encode_seconds)
    print(f"speed: {arguments.seconds / total:.1f} simulated seconds per wall-clock second")


if __name__ == "__main__":
    main()
