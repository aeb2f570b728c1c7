"""Publish messages that the pipeline cannot use to the dead-letter topic.

The dead-letter value is the original value, byte for byte, and the original key. The
reason and the source position travel in headers, as Kafka Connect's dead-letter queue
does, so a fixed message can be re-published from the dead-letter topic as it is.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Final

import faust
from faust.types import EventT

logger = logging.getLogger(__name__)

HEADER_REASON: Final = "qianliyan.error.reason"
HEADER_ERROR_CLASS: Final = "qianliyan.error.class"
HEADER_SOURCE_TOPIC: Final = "qianliyan.source.topic"
HEADER_SOURCE_PARTITION: Final = "qianliyan.source.partition"
HEADER_SOURCE_OFFSET: Final = "qianliyan.source.offset"
HEADER_TIME: Final = "qianliyan.deadletter.time"


class DeadLetterPublisher:
    """Send rejected events to the dead-letter topic and wait for the broker's ack."""

    def __init__(self, topic: faust.TopicT) -> None:
        self.topic = topic
        self.count = 0

    async def publish(self, event: EventT, reason: str, error_class: str) -> None:
        """Publish one event with the reason it was rejected."""
        message = event.message
        headers = list(_original_headers(message.headers))
        headers += [
            (HEADER_REASON, reason.encode()),
            (HEADER_ERROR_CLASS, error_class.encode()),
            (HEADER_SOURCE_TOPIC, message.topic.encode()),
            (HEADER_SOURCE_PARTITION, str(message.partition).encode()),
            (HEADER_SOURCE_OFFSET, str(message.offset).encode()),
            (HEADER_TIME, datetime.now(timezone.utc).isoformat().encode()),
        ]
        pending = await self.topic.send(key=message.key, value=message.value, headers=headers)
        await pending
        self.count += 1
        logger.warning(
            "message dead-lettered topic=%s partition=%d offset=%d reason=%s",
            message.topic, message.partition, message.offset, reason,
        )


def _original_headers(headers: object) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(key), bytes(value or b"")) for key, value in items]  # type: ignore[union-attr]
