"""Agent that validates telemetry, runs the detectors and writes to InfluxDB, at least once.

The agent acknowledges an event only after everything it caused is durable: its points in
InfluxDB (for periodic telemetry, the rollup of its window), its anomalies in the
``anomalies`` topic, or the event itself in the dead-letter topic. Faust commits only
acknowledged offsets, so a crash replays what was not finished instead of losing it.
Periodic telemetry is held until its rollup window closes, which delays the commit of its
offset by about one window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from faust.types import TP, EventT, StreamT

from pipeline import codec
from pipeline.agents.event_clock import EventClock
from pipeline.anomalies import AnomalyPublisher, anomaly_point
from pipeline.deadletter import DeadLetterPublisher
from pipeline.detection.engine import DetectionEngine, state_key
from pipeline.errors import InvalidMessageError
from pipeline.metrics import PipelineMetrics
from pipeline.schemas import Envelope
from pipeline.settings import StorageSettings
from pipeline.sinks.influxdb import InfluxWriter, PointsRejectedError
from pipeline.sinks.points import ROLLUP_MEASUREMENTS, PointData, to_points
from pipeline.sinks.rollup import RollupWindows

logger = logging.getLogger(__name__)

SUMMARY_INTERVAL_SECONDS = 60.0


@dataclass
class _Decoded:
    event: EventT
    message: Envelope
    points: list[PointData]


class TelemetryStore:
    """Validate events, detect anomalies, dead-letter invalid events and store the rest.

    Args:
        highwater: Returns a partition's high watermark (the offset of the next message to
            be written), for the consumer-lag gauge; None leaves the gauge unset.
        app_id: Tag of the ``pipeline_stats`` points this store writes.
        detection: Detectors to run on every valid message, with the publisher of their
            anomalies; None stores telemetry only.
        observe: Called with every valid message, for example to learn the cluster map.
        under_incident: Returns the nodes and racks of the firing incidents, which
            ``raw_storage="flagged"`` keeps at full rate.
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
        storage: StorageSettings | None = None,
        observe: Callable[[Envelope], None] | None = None,
        under_incident: Callable[[], set[str]] | None = None,
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
        self.storage = storage or StorageSettings()
        self.observe = observe
        self.under_incident = under_incident
        self.rollups = RollupWindows(self.storage.rollup_seconds, self.storage.lateness_seconds)
        self.messages_stored = 0
        self.points_written = 0
        self._flagged_until: dict[str, datetime] = {}
        self._lock = asyncio.Lock()
        self._last_input = time.monotonic()
        self._last_summary = time.monotonic()
        self._last_stats = time.monotonic()
        self.event_clock = EventClock(highwater) if highwater is not None else None

    async def run(self, stream: StreamT, batch_max_messages: int, within_seconds: float) -> None:
        """Consume the stream in batches until the worker stops."""
        await self.writer.start()
        idle_flusher = asyncio.ensure_future(self._flush_when_idle(stream))
        try:
            async for events in stream.noack_take(batch_max_messages, within=within_seconds):
                async with self._lock:
                    self._last_input = time.monotonic()
                    for event in await self.handle_batch(events):
                        await stream.ack(event)
                self._maybe_log_summary()
        finally:
            idle_flusher.cancel()
            await self.writer.close()

    async def handle_batch(self, events: Sequence[EventT]) -> list[EventT]:
        """Store one batch and return the events that may be acknowledged now.

        Events whose telemetry waits in an open rollup window are returned by a later call,
        or by :meth:`flush`, once their window is written.
        """
        decoded: list[_Decoded] = []
        done: list[EventT] = []
        for event in events:
            topic = self._topic_without_prefix(event.message.topic)
            self.metrics.messages_processed.labels(topic=topic).inc()
            try:
                message = codec.decode(topic, event.value, self.max_message_bytes)
            except InvalidMessageError as exc:
                await self._deadletter(event, topic, exc.reason, type(exc).__name__)
                done.append(event)
                continue
            decoded.append(_Decoded(event, message, to_points(message)))
            if self.event_clock is not None:
                self.event_clock.observe(event.message.tp, event.message.offset, message.time)
            if self.observe is not None:
                self.observe(message)

        points: list[PointData] = []
        if self.detection is not None:
            engine, publisher = self.detection
            clock = self.event_clock.now() if self.event_clock is not None else None
            try:
                anomalies = engine.process([item.message for item in decoded], clock=clock)
            except Exception:
                # A detector bug must not stop storage: the agent would stop reading for good.
                first = decoded[0].message if decoded else None
                logger.exception(
                    "detection failed, storing the batch without anomalies messages=%d first_time=%s first_topic=%s",
                    len(decoded), first.time if first else None, decoded[0].event.message.topic if decoded else None,
                )
                self.metrics.detection_errors.inc()
                anomalies = []
            await publisher.publish(anomalies)
            published_at = datetime.now(timezone.utc)
            for anomaly in anomalies:
                self._flag(anomaly.entity, anomaly.rack, anomaly.time)
                self.metrics.detection_latency.observe(max((published_at - anomaly.time).total_seconds(), 0.0))
            points += [anomaly_point(anomaly) for anomaly in anomalies]

        immediate: list[_Decoded] = []
        places = self.under_incident() if self.under_incident is not None and self.storage.raw_storage == "flagged" else set()
        for item in decoded:
            periodic = [point for point in item.points if point.measurement in ROLLUP_MEASUREMENTS]
            if not periodic or self.rollups.is_late(item.message.time):
                immediate.append(_Decoded(item.event, item.message, _as_raw(item.points)))
                continue
            if self._store_raw(item.message, places):
                points += _as_raw(periodic)
            points += [point for point in item.points if point.measurement not in ROLLUP_MEASUREMENTS]
            self.rollups.add(periodic, item.message.time, hold=item.event, source=item.event.message.tp)

        closed = self.rollups.close_ready()
        points += closed.points
        if self._stats_due():
            points.append(self.metrics.to_point(self.app_id))

        rejected = await self._write(points, immediate)
        done += [item.event for item in immediate] + list(closed.holds)  # type: ignore[arg-type]
        self.messages_stored += len(immediate) - rejected + len(closed.holds)
        self._observe(events, decoded)
        return done

    async def flush(self) -> list[EventT]:
        """Close every open rollup window, write it and return the events it held."""
        closed = self.rollups.close_all()
        if closed.points:
            await self._write(closed.points, [])
            self.messages_stored += len(closed.holds)
        return list(closed.holds)  # type: ignore[arg-type]

    async def _flush_when_idle(self, stream: StreamT) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.storage.idle_flush_seconds))
            if self.rollups.open_windows == 0 or time.monotonic() - self._last_input < self.storage.idle_flush_seconds:
                continue
            async with self._lock:
                try:
                    held = await self.flush()
                except PointsRejectedError:
                    logger.exception("InfluxDB rejected rollup points on an idle flush, dropping them windows=%d", self.rollups.open_windows)
                    continue
                for event in held:
                    await stream.ack(event)
                logger.debug("idle flush wrote rollup windows events=%d", len(held))

    async def _write(self, points: list[PointData], immediate: Sequence[_Decoded]) -> int:
        """Write the shared points and each message's own points; return how many messages were dead-lettered."""
        everything = points + [point for item in immediate for point in item.points]
        try:
            await self.writer.write([point.to_point() for point in everything])
            self.points_written += len(everything)
            return 0
        except PointsRejectedError as exc:
            logger.warning("InfluxDB rejected a batch, writing its parts one by one messages=%d error=%s", len(immediate), exc)

        try:
            await self.writer.write([point.to_point() for point in points])
        except PointsRejectedError:
            logger.exception("InfluxDB rejected rollup, anomaly or stats points, dropping them points=%d", len(points))
        rejected = 0
        for item in immediate:
            try:
                await self.writer.write([point.to_point() for point in item.points])
            except PointsRejectedError as exc:
                topic = self._topic_without_prefix(item.event.message.topic)
                await self._deadletter(item.event, topic, str(exc), type(exc).__name__)
                rejected += 1
        return rejected

    def _flag(self, entity: str, rack: str | None, at: datetime) -> None:
        until = at + timedelta(seconds=self.storage.raw_hold_seconds)
        for name in (entity, rack):
            if name and (name not in self._flagged_until or self._flagged_until[name] < until):
                self._flagged_until[name] = until

    def _store_raw(self, message: Envelope, places_under_incident: set[str]) -> bool:
        if self.storage.raw_storage == "all":
            return True
        if self.storage.raw_storage == "none":
            return False
        if state_key(message) in places_under_incident or getattr(message, "rack", None) in places_under_incident:
            return True
        for name in (state_key(message), getattr(message, "rack", None)):
            until = self._flagged_until.get(name) if name else None
            if until is not None and message.time <= until:
                return True
        return False

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
            "telemetry stored messages=%d points=%d dead_lettered=%d open_rollup_windows=%d max_consumer_lag=%d",
            self.messages_stored, self.points_written, self.deadletter.count, self.rollups.open_windows,
            self.metrics.max_consumer_lag(),
        )


def _as_raw(points: Sequence[PointData]) -> list[PointData]:
    """Tag periodic telemetry stored at full rate with ``resolution=raw``; leave other points as they are."""
    return [
        PointData(point.measurement, dict(point.tags, resolution="raw"), point.fields, point.time)
        if point.measurement in ROLLUP_MEASUREMENTS
        else point
        for point in points
    ]

