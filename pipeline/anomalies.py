"""Publish anomalies to Kafka and turn them into InfluxDB points."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence

import faust
from influxdb_client import Point, WritePrecision

from detectors.anomaly import Anomaly

logger = logging.getLogger(__name__)

HEADER_ANOMALY_ID = "qianliyan.anomaly.id"


def anomaly_id(anomaly: Anomaly) -> str:
    """Return a stable id: the same detection replayed from Kafka gets the same id."""
    parts = [anomaly.cluster, anomaly.detector, anomaly.entity_kind, anomaly.entity, str(anomaly.gpu), anomaly.time.isoformat()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def anomaly_point(anomaly: Anomaly) -> Point:
    """Return the ``anomaly`` point of one detection (schema in docs/influxdb-schema.md)."""
    point = Point("anomaly").tag("cluster", anomaly.cluster).tag("detector", anomaly.detector).tag("scope", anomaly.entity_kind)
    if anomaly.rack:
        point.tag("rack", anomaly.rack)
    if anomaly.entity_kind in ("gpu", "node"):
        point.tag("node", anomaly.entity)
    if anomaly.gpu is not None:
        point.tag("gpu", str(anomaly.gpu))
    job = anomaly.entity if anomaly.entity_kind == "job" else anomaly.evidence.get("job")
    if job:
        point.tag("job", str(job))
    field = anomaly.evidence.get("field")
    if field:
        point.tag("signal", str(field))
    if anomaly.fault_class:
        point.tag("fault_class", anomaly.fault_class)
    point.tag("severity", anomaly.severity)

    point.field("anomaly_id", anomaly_id(anomaly)).field("score", float(anomaly.score)).field("message", anomaly.message)
    if anomaly.threshold is not None:
        point.field("threshold", float(anomaly.threshold))
    value = anomaly.evidence.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        point.field("value", float(value))
    return point.time(anomaly.time, WritePrecision.NS)


class AnomalyPublisher:
    """Send anomalies to the ``anomalies`` topic, keyed by entity, and wait for the acks."""

    def __init__(self, topic: faust.TopicT) -> None:
        self.topic = topic
        self.count = 0

    async def publish(self, anomalies: Sequence[Anomaly]) -> None:
        """Publish a batch of anomalies; returns once the broker acknowledged all of them."""
        pending = []
        for anomaly in anomalies:
            identifier = anomaly_id(anomaly)
            pending.append(
                await self.topic.send(
                    key=anomaly.key.encode(),
                    value=anomaly.model_dump_json(exclude_none=True).encode(),
                    headers=[(HEADER_ANOMALY_ID, identifier.encode())],
                )
            )
            logger.info(
                "anomaly detected anomaly_id=%s detector=%s entity=%s gpu=%s severity=%s score=%.3g",
                identifier, anomaly.detector, anomaly.entity, anomaly.gpu, anomaly.severity, anomaly.score,
            )
        await asyncio.gather(*pending)
        self.count += len(anomalies)
