"""The Faust application: topics and agents, built from :class:`Settings`."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import faust
from pydantic import ValidationError

from pipeline import topics
from pipeline.agents.respond import IncidentResponder
from pipeline.agents.store_telemetry import TelemetryStore
from pipeline.alerts.incidents import IncidentNotifier
from pipeline.annotations import GrafanaAnnotator
from pipeline.anomalies import AnomalyPublisher
from pipeline.deadletter import DeadLetterPublisher
from pipeline.detection.engine import DetectionEngine
from pipeline.detection.model_stage import ModelStage
from pipeline.incidents.correlator import Correlator
from pipeline.incidents.registry import ClusterMapRegistry
from pipeline.metrics import PipelineMetrics
from pipeline.policy.config import DEFAULT_POLICY_PATH, load_policy
from pipeline.policy.models import ActionResult
from pipeline.policy.policy import Policy
from pipeline.settings import Settings
from pipeline.sinks.influxdb import InfluxWriter

logger = logging.getLogger(__name__)


def create_app(settings: Settings, metrics: PipelineMetrics | None = None) -> faust.App:
    """Build the Faust app with its topics and agents.

    Input topics are read as raw bytes, so that a value which fails to decode reaches our
    own validation and the dead-letter topic instead of Faust's decoder.
    """
    kafka = settings.kafka
    datadir = Path(tempfile.gettempdir()) / "qianliyan-faust" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)
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
        # The in-memory store needs no data folder; keep Faust's out of the working directory.
        datadir=str(datadir),
        # Do not wait on shutdown or rebalance for an agent to finish its batch: a batch that
        # waits on InfluxDB would block the stop forever. Unacknowledged messages are read
        # again after a restart, and their points and ids are the same, so nothing doubles.
        stream_wait_empty=False,
    )

    telemetry = app.topic(*kafka.telemetry_topics, key_type=bytes, value_type=bytes)
    deadletter = app.topic(kafka.topic(topics.DEADLETTER), key_type=bytes, value_type=bytes)
    anomalies = app.topic(kafka.topic(topics.ANOMALIES), key_type=bytes, value_type=bytes)
    metrics = metrics or PipelineMetrics()
    cluster_maps = ClusterMapRegistry(settings.topology_file)
    model_stage = ModelStage.from_file(settings.detection_model_path) if settings.detection_model_path is not None else None
    engine = DetectionEngine(model_stage=model_stage)
    store = TelemetryStore(
        writer=InfluxWriter(settings.influxdb, metrics),
        deadletter=DeadLetterPublisher(deadletter),
        topic_prefix=kafka.topic_prefix,
        max_message_bytes=settings.max_message_bytes,
        metrics=metrics,
        highwater=lambda tp: _highwater(app, tp),
        app_id=settings.app_id,
        stats_interval_seconds=settings.stats_interval_seconds,
        detection=(engine, AnomalyPublisher(anomalies)) if settings.detection_enabled else None,
        storage=settings.storage,
        observe=cluster_maps.observe,
    )

    @app.agent(telemetry, name="store_telemetry")
    async def store_telemetry(stream: faust.StreamT) -> None:
        logger.info("agent started agent=store_telemetry topics=%s", ",".join(kafka.telemetry_topics))
        await store.run(stream, settings.batch_max_messages, settings.influxdb.flush_interval_seconds)

    if settings.detection_enabled:
        responder = _add_response_agents(app, settings, metrics, cluster_maps, engine, anomalies)
        store.under_incident = responder.places_under_incident
    return app


def _add_response_agents(
    app: faust.App,
    settings: Settings,
    metrics: PipelineMetrics,
    cluster_maps: ClusterMapRegistry,
    engine: DetectionEngine,
    anomalies: faust.TopicT,
) -> IncidentResponder:
    """Add the agents that correlate anomalies into incidents, act on them and take in results."""
    kafka = settings.kafka
    config = load_policy(settings.policy_file or DEFAULT_POLICY_PATH)
    if settings.dry_run:
        config = config.model_copy(update={"dry_run": True})
    notifier = IncidentNotifier(settings.alerts) if settings.alerts.webhook_url is not None else None
    responder = IncidentResponder(
        correlator=Correlator(cluster_maps.current),
        policy=Policy(config, cluster_maps.current),
        writer=InfluxWriter(settings.influxdb, metrics),
        incidents_topic=app.topic(kafka.topic(topics.INCIDENTS), key_type=bytes, value_type=bytes),
        actions_topic=app.topic(kafka.topic(topics.ACTIONS), key_type=bytes, value_type=bytes),
        cluster_map=lambda: cluster_maps.current,
        event_time=lambda: engine.watermark,
        notifier=notifier,
        annotator=GrafanaAnnotator(settings.grafana) if settings.grafana.url is not None else None,
    )
    results = app.topic(kafka.topic(topics.ACTION_RESULTS), key_type=bytes, value_type=bytes)

    @app.agent(anomalies, name="respond")
    async def respond(stream: faust.StreamT) -> None:
        logger.info("agent started agent=respond dry_run=%s alerts=%s", config.dry_run, notifier is not None)
        await responder.run(stream, settings.batch_max_messages, settings.influxdb.flush_interval_seconds)

    @app.agent(results, name="record_results")
    async def record_results(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                result = ActionResult.model_validate_json(event.value)
            except ValidationError as exc:
                logger.error("invalid action result skipped offset=%d error=%s", event.message.offset, exc)
                continue
            await responder.record_result(result)

    if notifier is not None:
        @app.task
        async def deliver_alerts() -> None:
            await notifier.deliver(asyncio.Event())

    return responder


def _highwater(app: faust.App, tp: faust.types.TP) -> int | None:
    try:
        return int(app.consumer.highwater(tp))
    except (KeyError, TypeError, AttributeError):
        return None
