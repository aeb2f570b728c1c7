"""Agent that validates telemetry, runs the detectors and writes to InfluxDB, at least once.

Faust acknowledges the events of a ``take_events`` batch only after the loop body has
finished, and commits only acknowledged offsets. The body returns only after every valid
event's points were written to InfluxDB and every invalid event was acknowledged by the
dead-letter topic, and every anomaly was acknowledged by the ``anomalies`` topic, so a
crash at any point replays the batch instead of losing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from faust.types import TP, EventT, StreamT
from influxdb_client import Point

from pipeline import codec
from pipeline.anomalies import AnomalyPublisher, anomaly_point
from pipeline.deadletter import DeadLetterPublisher
from pipeline.detection.engine import DetectionEngine
from pipeline.errors import InvalidMessageError
from pipeline.metrics import PipelineMetrics
from pipeline.schemas import Envelope
from pipeline.sinks.influxdb import InfluxWriter, PointsRejectedError
from pipeline.sinks.points import to_points

logger = logging.getLogger(__name__)

SUMMARY_INTERVAL_SECONDS = 60.0


@dataclass
class _Decoded:
    event: EventT
    message: Envelope
    points: list[Point]


class TelemetryStore:
    """Validate events, dead-letter the invalid ones and write the rest to InfluxDB.

    Args:
        highwater: Returns a partition's high watermark (the offset of the next message to
            be written), for the consumer-lag gauge; None leaves the gauge unset.
        app_id: Tag of the ``pipeline_stats`` points this store writes.
        detection: Detectors to run on every valid message, with the publisher of their
            anomalies; None stores telemetry only.
    """

    def __init__(
        self,
        writer: InfluxWriter,
        deadletter: DeadLetterPublisher,
        topic_prefix: str,
        max_message_bytes: int,
        metrics: PipelineMetrics | None = None,
        highwater: Callable[[TP], int | None] | None = None,
        app_id: str = "qianliyan",
        stats_interval_seconds: float = 10.0,
        detection: tuple[DetectionEngine, AnomalyPublisher] | None = None,
    ) -> None:
        self.writer = writer
        self.deadletter = deadletter
        self.topic_prefix = topic_prefix
        self.max_message_bytes = max_message_bytes
        self.metrics = metrics or PipelineMetrics()
        self.highwater = highwater
        self.app_id = app_id
        self.stats_interval_seconds = stats_interval_seconds
        self.detection = detection
        self.messages_stored = 0
        self.points_written = 0
        self._last_summary = time.monotonic()
        self._last_stats = time.monotonic()

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
            self.metrics.messages_processed.labels(topic=topic).inc()
            try:
                message = codec.decode(topic, event.value, self.max_message_bytes)
            except InvalidMessageError as exc:
                await self._deadletter(event, topic, exc.reason, type(exc).__name__)
                continue
            decoded.append(_Decoded(event, message, to_points(message)))

        points = [point for item in decoded for point in item.points]
        if self.detection is not None:
            engine, publisher = self.detection
            anomalies = engine.process([item.message for item in decoded])
            await publisher.publish(anomalies)
            points += [anomaly_point(anomaly) for anomaly in anomalies]
        if self._stats_due():
            points.append(self.metrics.to_point(self.app_id))
        try:
            await self.writer.write(points)
        except PointsRejectedError as exc:
            logger.warning("InfluxDB rejected a batch, writing its messages one by one messages=%d error=%s", len(decoded), exc)
            await self._write_one_by_one(decoded)
        else:
            self.messages_stored += len(decoded)
            self.points_written += len(points)

        self._observe(events, decoded)

    async def _write_one_by_one(self, decoded: Sequence[_Decoded]) -> None:
        for item in decoded:
            try:
                await self.writer.write(item.points)
            except PointsRejectedError as exc:
                topic = self._topic_without_prefix(item.event.message.topic)
                await self._deadletter(item.event, topic, str(exc), type(exc).__name__)
            else:
                self.messages_stored += 1
                self.points_written += len(item.points)

    async def _deadletter(self, event: EventT, topic: str, reason: str, error_class: str) -> None:
        await self.deadletter.publish(event, reason, error_class)
        self.metrics.messages_deadlettered.labels(topic=topic, error_class=error_class).inc()

    def _observe(self, events: Sequence[EventT], decoded: Sequence[_Decoded]) -> None:
        now = datetime.now(timezone.utc)
        for item in decoded:
            self.metrics.store_latency.observe(max((now - item.message.time).total_seconds(), 0.0))

        if self.highwater is None:
            return
        last_offsets: dict[TP, int] = {}
        for event in events:
            last_offsets[event.message.tp] = event.message.offset
        for tp, offset in last_offsets.items():
            highwater = self.highwater(tp)
            if highwater is not None:
                lag = max(highwater - offset - 1, 0)
                self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)

    def _stats_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_stats < self.stats_interval_seconds:
            return False
        self._last_stats = now
        return True

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
            "telemetry stored messages=%d points=%d dead_lettered=%d max_consumer_lag=%d",
            self.messages_stored, self.points_written, self.deadletter.count, self.metrics.max_consumer_lag(),
        )
