"""Publish emulator records to Kafka with kafka-python."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from emulators.cluster import Record
from pipeline.errors import ServiceUnavailableError
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)


class KafkaPublisher:
    """Send records to their topics, keyed by entity, and count what was sent."""

    def __init__(self, settings: KafkaSettings, client_id: str = "qianliyan-emulator") -> None:
        self.settings = settings
        try:
            self.producer = KafkaProducer(
                bootstrap_servers=settings.bootstrap_servers.split(","),
                client_id=client_id,
                acks="all",
                linger_ms=20,
                request_timeout_ms=settings.request_timeout_ms,
            )
        except KafkaError as exc:
            raise ServiceUnavailableError(
                f"no Kafka broker responded at {settings.bootstrap_servers}; start one with "
                "'scripts/services.sh up' or set QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS"
            ) from exc
        self.sent = 0

    def publish(self, records: Iterable[Record]) -> int:
        """Queue records for sending and return how many were queued."""
        count = 0
        for record in records:
            self.send_raw(record.topic, record.key, orjson.dumps(record.value))
            count += 1
        return count

    def send_raw(self, topic: str, key: str | bytes | None, value: bytes) -> None:
        """Queue one already encoded value; ``topic`` is the name without the prefix."""
        key_bytes = key.encode() if isinstance(key, str) else key
        self.producer.send(self.settings.topic(topic), key=key_bytes, value=value)
        self.sent += 1

    def flush(self, timeout_seconds: float = 60.0) -> None:
        """Wait until every queued record is acknowledged by the broker.

        Raises:
            ServiceUnavailableError: the broker did not acknowledge within the timeout.
        """
        try:
            self.producer.flush(timeout=timeout_seconds)
        except KafkaError as exc:
            raise ServiceUnavailableError(f"Kafka did not acknowledge the records within {timeout_seconds} s: {exc}") from exc

    def close(self) -> None:
        """Flush and close the producer."""
        self.flush()
        self.producer.close()
        logger.info("publisher closed records_sent=%d", self.sent)
