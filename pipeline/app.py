"""The Faust application: topics and agents, built from :class:`Settings`."""

from __future__ import annotations

import logging

import faust

from pipeline import topics
from pipeline.agents.store_telemetry import TelemetryStore
from pipeline.anomalies import AnomalyPublisher
from pipeline.deadletter import DeadLetterPublisher
from pipeline.detection.engine import DetectionEngine
from pipeline.metrics import PipelineMetrics
from pipeline.settings import Settings
from pipeline.sinks.influxdb import InfluxWriter

logger = logging.getLogger(__name__)


def create_app(settings: Settings, metrics: PipelineMetrics | None = None) -> faust.App:
    """Build the Faust app with its topics and agents.

    Input topics are read as raw bytes, so that a value which fails to decode reaches our
    own validation and the dead-letter topic instead of Faust's decoder.
    """
    kafka = settings.kafka
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")],
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.topic_partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
    )

    telemetry = app.topic(*kafka.telemetry_topics, key_type=bytes, value_type=bytes)
    deadletter = app.topic(kafka.topic(topics.DEADLETTER), key_type=bytes, value_type=bytes)
    anomalies = app.topic(kafka.topic(topics.ANOMALIES), key_type=bytes, value_type=bytes)
    metrics = metrics or PipelineMetrics()
    store = TelemetryStore(
        writer=InfluxWriter(settings.influxdb, metrics),
        deadletter=DeadLetterPublisher(deadletter),
        topic_prefix=kafka.topic_prefix,
        max_message_bytes=settings.max_message_bytes,
        metrics=metrics,
        highwater=lambda tp: _highwater(app, tp),
        app_id=settings.app_id,
        stats_interval_seconds=settings.stats_interval_seconds,
        detection=(DetectionEngine(), AnomalyPublisher(anomalies)) if settings.detection_enabled else None,
        storage=settings.storage,
    )

    @app.agent(telemetry, name="store_telemetry")
    async def store_telemetry(stream: faust.StreamT) -> None:
        logger.info("agent started agent=store_telemetry topics=%s", ",".join(kafka.telemetry_topics))
        await store.run(stream, settings.batch_max_messages, settings.influxdb.flush_interval_seconds)

    return app


def _highwater(app: faust.App, tp: faust.types.TP) -> int | None:
    try:
        return int(app.consumer.highwater(tp))
    except (KeyError, TypeError, AttributeError):
        return None
