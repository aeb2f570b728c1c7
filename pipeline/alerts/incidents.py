"""Turn incident updates into alert notifications in the durable outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pipeline.alerts.message import render_body
from pipeline.alerts.models import Alert
from pipeline.alerts.outbox import Outbox
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.webhook import WebhookNotifier
from pipeline.incidents.models import IncidentUpdate

logger = logging.getLogger(__name__)


def alert_for(update: IncidentUpdate) -> Alert:
    """Return the alert of one incident update; the labels identify the incident."""
    incident = update.incident
    labels = {
        "alertname": incident.fault_class,
        "cluster": incident.cluster,
        "scope": incident.scope,
        "entity": incident.entity,
        "severity": incident.severity,
        "incident_id": incident.incident_id,
    }
    for name in ("rack", "node", "switch"):
        value = getattr(incident, name)
        if value:
            labels[name] = value
    if incident.gpu is not None:
        labels["gpu"] = str(incident.gpu)
    annotations = {
        "summary": incident.summary or f"{incident.fault_class} on {incident.entity}",
        "confidence": incident.confidence,
        "anomalies": str(incident.anomaly_count),
        "suppressed": str(incident.suppressed_count),
    }
    if incident.jobs:
        annotations["jobs"] = ",".join(incident.jobs)
    resolved = incident.status == "resolved"
    return Alert(
        labels=labels,
        annotations=annotations,
        starts_at=incident.started_at,
        ends_at=incident.resolved_at if resolved else None,
        status="resolved" if resolved else "firing",
    )


class IncidentNotifier:
    """Queue one notification per incident update and deliver the queue in the background."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self.outbox = Outbox.from_settings(settings)

    def enqueue(self, updates: Sequence[IncidentUpdate]) -> int:
        """Store the notifications of these updates durably; returns how many were new."""
        added = 0
        for update in updates:
            notification_id = f"{update.incident.incident_id}:{update.kind}:{update.time.isoformat()}"
            body = render_body(
                [alert_for(update)],
                format=self.settings.format,
                receiver=self.settings.receiver,
                max_alerts=self.settings.max_alerts_per_message,
            )
            added += int(self.outbox.enqueue(notification_id, body))
        return added

    async def deliver(self, stop: asyncio.Event) -> None:
        """Send queued notifications until ``stop`` is set."""
        async with WebhookNotifier.from_settings(self.settings) as notifier:
            await self.outbox.drain(notifier, stop)

    def close(self) -> None:
        """Close the outbox file."""
        self.outbox.close()
