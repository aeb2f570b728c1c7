"""Kafka administration: a closed broker port fails at once with one clear error."""

from __future__ import annotations

import socket
import time

import pytest

from pipeline.errors import ServiceUnavailableError
from pipeline.kafka_admin import broker_reachable, ensure_topics
from pipeline.settings import KafkaSettings


def closed_port() -> int:
    """Return a local port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_closed_port_not_reachable() -> None:
    assert not broker_reachable(KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}"))


def test_listening_port_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        assert broker_reachable(KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()},127.0.0.1:{port}"))


def test_ensure_topics_fails_fast_without_broker() -> None:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}")
    started = time.monotonic()

    with pytest.raises(ServiceUnavailableError, match="no Kafka broker accepts connections"):
        ensure_topics(settings)

    assert time.monotonic() - started < 5
