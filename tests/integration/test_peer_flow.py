"""Peer comparison on the real services: an emulated straggler comes out as a peers anomaly."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from emulators.faults.scenario import load_scenario
from emulators.run import run_emulation
from emulators.topology import load_topology
from pipeline import topics
from pipeline.settings import Settings
from tests.integration.conftest import PROJECT_ROOT, wait_for

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SCENARIO = PROJECT_ROOT / "emulators" / "scenarios" / "straggler.yaml"
FAULT_START = START + timedelta(seconds=60)
# The straggler starts 60 s in and must be found within 120 s of its start.
SAMPLES = 60 + 120


def test_straggler_becomes_peers_anomaly(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    topology = load_topology(PROJECT_ROOT / "emulators" / "topologies" / "small.yaml")

    run_emulation(settings.kafka, topology, seed=0, samples=SAMPLES, start=START, scenario=load_scenario(SCENARIO))

    consumer = KafkaConsumer(
        settings.kafka.topic(topics.ANOMALIES),
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1_000,
    )
    anomalies: list[dict] = []

    def collect() -> bool:
        anomalies.extend(orjson.loads(record.value) for record in consumer)
        return any(anomaly["detector"] == "peers.deviation" for anomaly in anomalies)

    try:
        wait_for(collect, timeout_seconds=180, what="a peers.deviation anomaly", worker=worker, log=tmp_path / "worker.log")
    finally:
        consumer.close()

    peers = [anomaly for anomaly in anomalies if anomaly["detector"] == "peers.deviation"]
    assert [anomaly["entity"] for anomaly in peers] == ["r000-n02"]
    anomaly = peers[0]
    assert anomaly["entity_kind"] == "node"
    assert anomaly["evidence"]["metric"] == "DCGM_FI_DEV_SM_CLOCK"
    assert anomaly["evidence"]["value"] < anomaly["evidence"]["peer_median"]
    detected = datetime.fromisoformat(anomaly["time"].replace("Z", "+00:00"))
    assert timedelta(0) <= detected - FAULT_START <= timedelta(seconds=120)
