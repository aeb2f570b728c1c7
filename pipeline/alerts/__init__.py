"""Alert notifications: Alertmanager-compatible webhooks, a durable outbox and a test receiver.

The flow is ``Alert`` (models) -> rendered body (message) -> :class:`Outbox` (durable,
idempotent by notification id) -> :class:`WebhookNotifier` (signed HTTP POST with
retries) -> any webhook receiver, for example :mod:`pipeline.alerts.receiver` or
Alertmanager's own webhook consumers. :class:`AlertmanagerClient` instead pushes alerts
into an Alertmanager, which then groups, silences and routes them itself.
"""

from pipeline.alerts.alertmanager import AlertmanagerClient, AlertmanagerError
from pipeline.alerts.message import build_plain_message, build_webhook_message, render_body
from pipeline.alerts.models import Alert, PlainMessage, WebhookAlert, WebhookMessage, fingerprint
from pipeline.alerts.outbox import Outbox, OutboxEntry
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.webhook import NotifyError, WebhookNotifier, redact_url

__all__ = [
    "Alert",
    "AlertSettings",
    "AlertmanagerClient",
    "AlertmanagerError",
    "NotifyError",
    "Outbox",
    "OutboxEntry",
    "PlainMessage",
    "WebhookAlert",
    "WebhookMessage",
    "WebhookNotifier",
    "build_plain_message",
    "build_webhook_message",
    "fingerprint",
    "redact_url",
    "render_body",
]
