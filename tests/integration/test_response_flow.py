"""The closed loop on the real services: fault → anomaly → incident → action, alert and result."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from emulators.publisher import KafkaPublisher
from pipeline import topics
from pipeline.alerts.settings import AlertSettings
from pipeline.settings import Settings
from pipeline.sinks import influxql
from tests.factories import gpu_message
from tests.integration.conftest import PROJECT_ROOT, free_port, settings_env, wait_for

pytestmark = pytest.mark.integration

XID_79 = {
    "schema_version": 1, "time": "2026-01-01T00:00:05Z", "cluster": "test", "kind": "xid", "severity": "critical",
    "rack": "r000", "node": "r000-n01", "gpu": 3, "code": 79, "message": "GPU has fallen off the bus", "source": "kmsg",
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shared test settings, with alert webhooks to a receiver on a free port."""
    settings.alerts = AlertSettings(
        webhook_url=f"http://127.0.0.1:{free_port()}/webhook",
        webhook_secret="test-secret",
        outbox_path=tmp_path / "outbox.sqlite3",
        retry_initial_delay_seconds=0.2,
        max_retry_delay_seconds=1.0,
    )
    return settings


def consume(settings: Settings, topic: str, count: int, worker: subprocess.Popen[bytes], log: Path) -> list[dict]:
    consumer = KafkaConsumer(
        settings.kafka.topic(topic), bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest", consumer_timeout_ms=1_000,
    )
    values: list[dict] = []

    def collect() -> bool:
        values.extend(orjson.loads(record.value) for record in consumer)
        return len(values) >= count

    try:
        wait_for(collect, timeout_seconds=90, what=f"{count} messages on {topic}", worker=worker, log=log)
    finally:
        consumer.close()
    return values


def test_xid_79_closes_the_loop(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    webhook = urllib.parse.urlsplit(settings.alerts.webhook_url.get_secret_value())
    receiver = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "receiver", "--host", "127.0.0.1", "--port", str(webhook.port), "--secret", "test-secret"],
        cwd=PROJECT_ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        publisher = KafkaPublisher(settings.kafka)
        # The node's GPU telemetry tells the worker which rack the node is in.
        publisher.send_raw(topics.GPU, "r000-n01", orjson.dumps(gpu_message(node="r000-n01", time="2026-01-01T00:00:04Z")))
        publisher.send_raw(topics.HARDWARE_EVENTS, "r000-n01", orjson.dumps(XID_79))
        publisher.close()

        incidents = consume(settings, topics.INCIDENTS, 1, worker, log)
        incident = incidents[0]["incident"]
        assert incidents[0]["kind"] == "opened"
        assert incident["scope"] == "gpu"
        assert incident["entity"] == "r000-n01"
        assert incident["gpu"] == 3
        assert incident["severity"] == "critical"

        actions = consume(settings, topics.ACTIONS, 1, worker, log)
        assert {action["incident_id"] for action in actions} == {incident["incident_id"]}

        # The controller's result comes back and is recorded against the action.
        result = {"action_id": actions[0]["action_id"], "status": "ok", "detail": "applied by the test", "applied_at": datetime.now(timezone.utc).isoformat()}
        publisher = KafkaPublisher(settings.kafka)
        publisher.send_raw(topics.ACTION_RESULTS, actions[0]["target"], orjson.dumps(result))
        publisher.close()

        stored = wait_for(
            lambda: influxql.query(settings.influxdb, 'SELECT "action_id" FROM "action" GROUP BY "status"'),
            timeout_seconds=60, what="action points", worker=worker, log=log,
        )
        wait_for(
            lambda: {series["tags"]["status"] for series in influxql.query(settings.influxdb, 'SELECT "action_id" FROM "action" GROUP BY "status"')} >= {"issued", "ok"},
            timeout_seconds=60, what="an action result point", worker=worker, log=log,
        )
        assert stored
        incident_rows = influxql.query(settings.influxdb, 'SELECT "incident_id", "open" FROM "incident"')
        assert incident_rows[0]["values"][0][1] == incident["incident_id"]

        def received() -> list[dict]:
            with urllib.request.urlopen(f"http://127.0.0.1:{webhook.port}/messages", timeout=5) as response:
                return json.load(response)

        messages = wait_for(received, timeout_seconds=60, what="the alert webhook", worker=worker, log=log)
        assert messages[0]["format"] == "alertmanager"
        alert = messages[0]["payload"]["alerts"][0]
        assert alert["labels"]["incident_id"] == incident["incident_id"]
        assert alert["status"] == "firing"
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
