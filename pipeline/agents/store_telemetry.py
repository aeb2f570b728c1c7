"""Agent that validates telemetry and writes it to InfluxDB, at least once.

Faust acknowledges the events of a ``take_events`` batch only after the loop body has
finished, and commits only acknowledged offsets. The body returns only after every valid
event's points were written to InfluxDB and every invalid event was acknowledged by the
dead-letter topic, so a crash at any point replays the batch instead of losing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from faust.types import EventT, StreamT
from influxdb_client import Point

from pipeline import codec
from pipeline.deadletter import DeadLetterPublisher
from pipeline.errors import InvalidMessageError
from pipeline.sinks.influxdb import InfluxWriter, PointsRejectedError
from pipeline.sinks.points import to_points

logger = logging.getLogger(__name__)

SUMMARY_INTERVAL_SECONDS = 60.0


@dataclass
class _Decoded:
    event: EventT
    points: list[Point]


class TelemetryStore:
    """Validate events, dead-letter the invalid ones and write the rest to InfluxDB."""

    def __init__(
        self,
        writer: InfluxWriter,
        deadletter: DeadLetterPublisher,
        topic_prefix: str,
        max_message_bytes: int,
    ) -> None:
        self.writer = writer
        self.deadletter = deadletter
        self.topic_prefix = topic_prefix
        self.max_message_bytes = max_message_bytes
        self.messages_stored = 0
        self.points_written = 0
        self._last_summary = time.monotonic()

    async def run(self, stream: StreamT, batch_max_messages: int, within_seconds: float) -> None:
        """Consume the stream in batches until the worker stops."""
        await self.writer.start()
        try:
            async for events in stream.take_events(batch_max_messages, within=within_seconds):
                await self.handle_batch(events)
                self._maybe_log_summary()
        finally:
            await self.writer.close()

    async def handle_batch(self, events: Sequence[EventT]) -> None:
        """Store one batch; returns only when every event is written or dead-lettered."""
        decoded: list[_Decoded] = []
        for event in events:
            topic = self._topic_without_prefix(event.message.topic)
            try:
                message = codec.decode(topic, event.value, self.max_message_bytes)
            except InvalidMessageError as exc:
                await self.deadletter.publish(event, exc.reason, type(exc).__name__)
                continue
            decoded.append(_Decoded(event, to_points(message)))

        points = [point for item in decoded for point in item.points]
        try:
            await self.writer.write(points)
        except PointsRejectedError as exc:
            logger.warning("InfluxDB rejected a batch, writing its messages one by one messages=%d error=%s", len(decoded), exc)
            await self._write_one_by_one(decoded)
        else:
            self.messages_stored += len(decoded)
            self.points_written += len(points)

    async def _write_one_by_one(self, decoded: Sequence[_Decoded]) -> None:
        for item in decoded:
            try:
                await self.writer.write(item.points)
            except PointsRejectedError as exc:
                await self.deadletter.publish(item.event, str(exc), type(exc).__name__)
            else:
                self.messages_stored += 1
                self.points_written += len(item.points)

    def _topic_without_prefix(self, topic: str) -> str:
        if self.topic_prefix and topic.startswith(self.topic_prefix):
            return topic[len(self.topic_prefix) :]
        return topic

    def _maybe_log_summary(self) -> None:
        now = time.monotonic()
        if now - self._last_summary < SUMMARY_INTERVAL_SECONDS:
            return
        self._last_summary = now
        logger.info(
            "telemetry stored messages=%d points=%d dead_lettered=%d",
            self.messages_stored, self.points_written, self.deadletter.count,
        )
