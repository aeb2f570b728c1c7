"""Publish anomalies to Kafka and turn them into InfluxDB points."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence

import faust
from detectors.anomaly import Anomaly
from pipeline.sinks.points import PointData

logger = logging.getLogger(__name__)

HEADER_ANOMALY_ID = "qianliyan.anomaly.id"


def anomaly_id(anomaly: Anomaly) -> str:
    """Return a stable id: the same detection replayed from Kafka gets the same id."""
    parts = [anomaly.cluster, anomaly.detector, anomaly.entity_kind, anomaly.entity, str(anomaly.gpu), anomaly.time.isoformat()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def anomaly_point(anomaly: Anomaly) -> PointData:
    """Return the ``anomaly`` point of one detection (schema in docs/influxdb-schema.md)."""
    tags = {"cluster": anomaly.cluster, "detector": anomaly.detector, "scope": anomaly.entity_kind, "severity": anomaly.severity}
    if anomaly.rack:
        tags["rack"] = anomaly.rack
    if anomaly.entity_kind in ("gpu", "node"):
        tags["node"] = anomaly.entity
    if anomaly.gpu is not None:
        tags["gpu"] = str(anomaly.gpu)
    job = anomaly.entity if anomaly.entity_kind == "job" else anomaly.evidence.get("job")
    if job:
        tags["job"] = str(job)
    signal = anomaly.evidence.get("field")
    if signal:
        tags["signal"] = str(signal)
    if anomaly.fault_class:
        tags["fault_class"] = anomaly.fault_class

    fields: dict[str, object] = {"anomaly_id": anomaly_id(anomaly), "score": float(anomaly.score), "message": anomaly.message}
    if anomaly.threshold is not None:
        fields["threshold"] = float(anomaly.threshold)
    value = anomaly.evidence.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        fields["value"] = float(value)
    return PointData("anomaly", tags, fields, anomaly.time)


class AnomalyPublisher:
    """Send anomalies to the ``anomalies`` topic and wait for the acks.

    The key is the cluster, so every anomaly of a cluster reaches the same correlator,
    which needs all of a rack's or a job's anomalies to group them. Anomalies are few
    compared with telemetry, so one partition per cluster is enough.
    """

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
                    key=anomaly.cluster.encode(),
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
