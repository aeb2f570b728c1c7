"""Agents that turn anomalies into incidents and actions, and take in the actions' results.

``respond`` reads the ``anomalies`` topic, correlates each anomaly into incidents, gets the
policy's actions, publishes incidents and actions, and writes both to InfluxDB. Like the
store agent, it acknowledges a batch only after all of that was acknowledged. A timer
advances the correlator's event time with the newest telemetry, so incidents resolve even
when no anomaly arrives. ``record_results`` reads ``actions.results`` back into the policy.

NOTE: the correlator and the policy guards keep their state in memory, so a restarted
worker forgets open incidents and issued action ids. Replayed anomalies get the same
incident and action ids, which the controller ignores when it has applied them already.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import faust
from faust.types import EventT, StreamT
from pydantic import ValidationError

from detectors.anomaly import Anomaly
from pipeline.alerts.incidents import IncidentNotifier
from pipeline.annotations import GrafanaAnnotator
from pipeline.incidents.cluster_map import ClusterMap
from pipeline.incidents.correlator import Correlator
from pipeline.incidents.models import IncidentUpdate
from pipeline.policy.models import ActionRequest, ActionResult
from pipeline.policy.policy import Policy
from pipeline.sinks.influxdb import InfluxWriter, PointsRejectedError
from pipeline.sinks.points import PointData

logger = logging.getLogger(__name__)

def incident_points(update: IncidentUpdate) -> list[PointData]:
    """Return the ``incident`` points of one incident change: one per job it touches (docs/influxdb-schema.md)."""
    incident = update.incident
    tags = {
        "cluster": incident.cluster,
        "scope": incident.scope,
        "fault_class": incident.fault_class,
        "severity": incident.severity,
        "status": incident.status,
    }
    for name in ("rack", "node"):
        value = getattr(incident, name)
        if value:
            tags[name] = value
    if incident.gpu is not None:
        tags["gpu"] = str(incident.gpu)
    fields: dict[str, object] = {
        "incident_id": incident.incident_id,
        "update": update.kind,
        "open": 0 if incident.status == "resolved" else 1,
        "entity": incident.entity,
        "confidence": incident.confidence,
        "anomaly_count": incident.anomaly_count,
        "suppressed_count": incident.suppressed_count,
        "max_score": float(incident.max_score),
        "summary": incident.summary,
    }
    if incident.resolution is not None:
        fields["resolution"] = incident.resolution
    if incident.resolved_at is not None:
        fields["duration_seconds"] = (incident.resolved_at - incident.started_at).total_seconds()
    if not incident.jobs:
        return [PointData("incident", tags, fields, update.time)]
    return [PointData("incident", dict(tags, job=job), fields, update.time) for job in incident.jobs]


def action_point(action: ActionRequest, cluster: str, result: ActionResult | None = None) -> PointData:
    """Return the ``action`` point of an issued action, or of its result when given (docs/influxdb-schema.md)."""
    tags = {"cluster": cluster, "kind": action.kind, "fault_class": action.fault_class, "target": action.target}
    if action.job:
        tags["job"] = action.job
    fields: dict[str, object] = {
        "action_id": action.action_id,
        "incident_id": action.incident_id,
        "attempt": action.attempt,
        "reason": action.reason,
    }
    if result is None:
        tags["status"] = "dry_run" if action.dry_run else "issued"
        return PointData("action", tags, fields, action.issued_at)
    tags["status"] = result.status
    fields["detail"] = result.detail
    fields["duration_seconds"] = max((result.applied_at - action.issued_at).total_seconds(), 0.0)
    return PointData("action", tags, fields, result.applied_at)


UPDATE_RANK = {"updated": 0, "opened": 1, "resolved": 2}


def _one_change_per_instant(updates: Sequence[IncidentUpdate]) -> list[IncidentUpdate]:
    """Merge changes of one incident at one event time, which would share an InfluxDB point.

    The merged change keeps the most telling kind (resolved, then opened, then updated) and
    the incident as it was after the last change.
    """
    merged: dict[tuple[str, datetime], IncidentUpdate] = {}
    for update in updates:
        key = (update.incident.incident_id, update.time)
        previous = merged.get(key)
        if previous is None:
            merged[key] = update
            continue
        kind = max(previous.kind, update.kind, key=UPDATE_RANK.__getitem__)
        merged[key] = update.model_copy(update={"kind": kind})
    return list(merged.values())


class IncidentResponder:
    """Correlate anomalies, decide actions, publish both and write them to InfluxDB.

    Args:
        cluster_map: Returns the current cluster map; it may grow as telemetry names new
            nodes and jobs.
        event_time: Returns the newest event time of the input telemetry, or None.
        notifier: Queues an alert notification per incident update; None sends none.
        annotator: Posts each action and result to Grafana as an annotation; None posts none.
    """

    def __init__(
        self,
        correlator: Correlator,
        policy: Policy,
        writer: InfluxWriter,
        incidents_topic: faust.TopicT,
        actions_topic: faust.TopicT,
        cluster_map: Callable[[], ClusterMap],
        event_time: Callable[[], datetime | None],
        notifier: IncidentNotifier | None = None,
        annotator: GrafanaAnnotator | None = None,
    ) -> None:
        self.correlator = correlator
        self.policy = policy
        self.writer = writer
        self.incidents_topic = incidents_topic
        self.actions_topic = actions_topic
        self.cluster_map = cluster_map
        self.event_time = event_time
        self.notifier = notifier
        self.annotator = annotator
        self.actions: dict[str, tuple[ActionRequest, str]] = {}
        self._lock = asyncio.Lock()

    async def run(self, stream: StreamT, batch_max_messages: int, within_seconds: float) -> None:
        """Consume anomalies in batches until the worker stops, resolving silent incidents on a timer."""
        await self.writer.start()
        ticker = asyncio.ensure_future(self._tick_forever(within_seconds))
        try:
            async for events in stream.take_events(batch_max_messages, within=within_seconds):
                async with self._lock:
                    await self.handle_anomalies(events)
        finally:
            ticker.cancel()
            if self.annotator is not None:
                await self.annotator.close()
            await self.writer.close()

    async def handle_anomalies(self, events: Sequence[EventT]) -> None:
        """Correlate a batch of anomaly events; returns after everything it caused is durable."""
        self._refresh_cluster_map()
        updates: list[IncidentUpdate] = []
        for event in events:
            try:
                anomaly = Anomaly.model_validate_json(event.value)
            except ValidationError as exc:
                logger.error(
                    "invalid anomaly skipped topic=%s partition=%d offset=%d error=%s",
                    event.message.topic, event.message.partition, event.message.offset, exc,
                )
                continue
            updates += self.correlator.process(anomaly)
        await self._respond(updates)

    async def tick(self) -> None:
        """Resolve incidents that fell silent before the newest telemetry's event time."""
        now = self.event_time()
        if now is None:
            return
        async with self._lock:
            await self._respond(self.correlator.tick(now))

    def places_under_incident(self) -> set[str]:
        """Return the nodes and racks of the firing incidents."""
        places: set[str] = set()
        for incident in self.correlator.firing:
            places.update(name for name in (incident.node, incident.rack) if name)
            if incident.scope == "rack":
                places.update(self.correlator.cluster_map.nodes_of_rack(incident.entity))
        return places

    async def record_result(self, result: ActionResult) -> None:
        """Pass a controller result to the policy and write it to InfluxDB."""
        self.policy.record_result(result)
        issued = self.actions.get(result.action_id)
        if issued is None:
            logger.warning("result for an unknown action action_id=%s status=%s", result.action_id, result.status)
            return
        action, cluster = issued
        await self._write([action_point(action, cluster, result)])
        if self.annotator is not None:
            self.annotator.schedule(action, result)

    async def _respond(self, updates: Sequence[IncidentUpdate]) -> None:
        if not updates:
            return
        if self.notifier is not None:
            self.notifier.enqueue(updates)
        points: list[PointData] = []
        pending = []
        for update in updates:
            incident = update.incident
            logger.info(
                "incident %s incident_id=%s scope=%s entity=%s fault_class=%s severity=%s",
                update.kind, incident.incident_id, incident.scope, incident.entity, incident.fault_class, incident.severity,
            )
            pending.append(await self.incidents_topic.send(key=incident.incident_id.encode(), value=update.model_dump_json().encode()))
            for action in self.policy.decide(update, update.time):
                self.actions[action.action_id] = (action, incident.cluster)
                pending.append(await self.actions_topic.send(key=action.target.encode(), value=action.model_dump_json().encode()))
                points.append(action_point(action, incident.cluster))
                if self.annotator is not None:
                    self.annotator.schedule(action)
        for update in _one_change_per_instant(updates):
            points += incident_points(update)
        await asyncio.gather(*pending)
        await self._write(points)

    async def _write(self, points: list[PointData]) -> None:
        try:
            await self.writer.write([point.to_point() for point in points])
        except PointsRejectedError:
            logger.exception("InfluxDB rejected incident or action points, dropping them points=%d", len(points))

    async def _tick_forever(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.tick()
            except (ValueError, KeyError) as exc:
                logger.exception("incident tick failed error=%s", exc)

    def _refresh_cluster_map(self) -> None:
        current = self.cluster_map()
        if current is not self.correlator.cluster_map:
            self.correlator.cluster_map = current
            self.policy.cluster_map = current
            self.policy.guard.cluster_map = current
