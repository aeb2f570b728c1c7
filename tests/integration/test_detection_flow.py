"""Detection on the real services: a fault published to Kafka comes out as an anomaly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from emulators.publisher import KafkaPublisher
from pipeline import topics
from pipeline.settings import Settings
from pipeline.sinks import influxql
from tests.factories import gpu_message
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

XID_79 = {
    "schema_version": 1, "time": "2026-01-01T00:00:05Z", "cluster": "test", "kind": "xid", "severity": "critical",
    "rack": "r000", "node": "r000-n00", "gpu": 1, "code": 79, "message": "GPU has fallen off the bus", "source": "kmsg",
}


def test_xid_and_dbe_become_anomalies(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    dbe = gpu_message(time="2026-01-01T00:00:06Z")
    dbe["gpus"][0]["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"] = 2
    publisher = KafkaPublisher(settings.kafka)
    publisher.send_raw(topics.HARDWARE_EVENTS, "r000-n00", orjson.dumps(XID_79))
    publisher.send_raw(topics.GPU, "r000-n00", orjson.dumps(dbe))
    publisher.close()

    consumer = KafkaConsumer(
        settings.kafka.topic(topics.ANOMALIES),
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1_000,
    )
    anomalies: list[dict] = []

    def collect() -> bool:
        anomalies.extend(orjson.loads(record.value) for record in consumer)
        return {"rule.xid", "rule.ecc"} <= {anomaly["detector"] for anomaly in anomalies}

    try:
        wait_for(collect, timeout_seconds=120, what="anomalies from rule.xid and rule.ecc", worker=worker, log=log)
    finally:
        consumer.close()

    xid = next(anomaly for anomaly in anomalies if anomaly["detector"] == "rule.xid")
    assert xid["entity"] == "r000-n00"
    assert xid["gpu"] == 1
    assert xid["severity"] == "critical"
    assert xid["fault_class"] == "gpu_fell_off_bus"

    stored = wait_for(
        lambda: influxql.query(settings.influxdb, 'SELECT "score", "anomaly_id" FROM "anomaly" GROUP BY "detector"'),
        timeout_seconds=60, what="anomaly points in InfluxDB", worker=worker, log=log,
    )
    assert {series["tags"]["detector"] for series in stored} >= {"rule.xid", "rule.ecc"}
