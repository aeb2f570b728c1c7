"""Replay SMD and NAB into the real Kafka broker and read the messages back.

Needs the broker from ``scripts/services.sh up kafka`` on 127.0.0.1. When it is down the
test skips, unless ``QIANLIYAN_REQUIRE_SERVICES=1`` is set: then it fails, because a skip
there would hide a broken install.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import orjson
import pytest
import typer
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from typer.testing import CliRunner

from emulators.replay.command import replay
from pipeline import codec, topics
from pipeline.schemas import FaultTruth
from pipeline.settings import KafkaSettings
from tests.emulators.replay.datasets import NAB_DIR, SMD_DIR

pytestmark = pytest.mark.integration

KAFKA_ADDRESS = ("127.0.0.1", int(os.environ.get("QIANLIYAN_KAFKA_PORT", "9092")))
SMD_ROWS = 300
SMD_LABELS = 1
NAB_SERIES = "artificialWithAnomaly/art_daily_jumpsup"
NAB_ROWS = 4032
NAB_LABELS = 1
CONSUME_TIMEOUT_SECONDS = 60

app = typer.Typer()
app.command()(replay)


@app.callback()
def main() -> None:
    """Stand-in for the qianliyan command group."""


def _kafka_up() -> bool:
    try:
        with socket.create_connection(KAFKA_ADDRESS, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def kafka_settings() -> Iterator[KafkaSettings]:
    """Kafka settings with a topic prefix of this test alone; its topics are deleted after."""
    if not _kafka_up():
        reason = f"Kafka is not listening on {KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}"
        if os.environ.get("QIANLIYAN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}, and QIANLIYAN_REQUIRE_SERVICES=1 forbids skipping; run 'scripts/services.sh up kafka'")
        pytest.skip(f"{reason}; run 'scripts/services.sh up kafka' to start it")

    settings = KafkaSettings(bootstrap_servers=f"{KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}", topic_prefix=f"test-replay-{uuid.uuid4().hex[:10]}.")
    yield settings

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="qianliyan-test-cleanup")
    try:
        ours = [name for name in admin.list_topics() if name.startswith(settings.topic_prefix)]
        if ours:
            admin.delete_topics(ours)
    finally:
        admin.close()


def _replay(settings: KafkaSettings, *args: str) -> None:
    result = CliRunner().invoke(
        app, ["replay", *args, "--bootstrap-servers", settings.bootstrap_servers, "--topic-prefix", settings.topic_prefix]
    )
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"


def _consume(settings: KafkaSettings, expected: int) -> list[tuple[str, str, bytes]]:
    """Read (topic without prefix, key, value) from the replay topics until ``expected`` arrived."""
    names = [settings.topic(topics.GENERIC), settings.topic(topics.FAULTS_TRUTH)]
    consumer = KafkaConsumer(
        *names,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=2_000,
    )
    messages: list[tuple[str, str, bytes]] = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_SECONDS
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1_000).values():
                for message in batch:
                    topic = message.topic.removeprefix(settings.topic_prefix)
                    messages.append((topic, message.key.decode(), message.value))
    finally:
        consumer.close()
    return messages


def test_replay_smd_and_nab_into_kafka(kafka_settings: KafkaSettings) -> None:
    _replay(kafka_settings, "smd", str(SMD_DIR), "--machine", "machine-1-6", "--limit", str(SMD_ROWS))
    _replay(kafka_settings, "nab", str(NAB_DIR), "--series", NAB_SERIES)
    expected = SMD_ROWS + SMD_LABELS + NAB_ROWS + NAB_LABELS

    messages = _consume(kafka_settings, expected)
    keys = Counter((topic, key) for topic, key, _ in messages)
    for topic, _, value in messages:
        if topic == topics.FAULTS_TRUTH:
            FaultTruth.model_validate_json(value)
        else:
            codec.decode(topic, value, 256 * 1024)
    smd_labels = [orjson.loads(value) for topic, key, value in messages if topic == topics.FAULTS_TRUTH and key.startswith("smd-")]

    assert len(messages) == expected
    assert keys[(topics.GENERIC, "machine-1-6")] == SMD_ROWS
    assert keys[(topics.GENERIC, NAB_SERIES)] == NAB_ROWS
    assert keys[(topics.FAULTS_TRUTH, "smd-machine-1-6-246-252")] == 1
    assert keys[(topics.FAULTS_TRUTH, f"nab-{NAB_SERIES}-0")] == 1
    assert smd_labels[0]["entity"] == "machine-1-6"
