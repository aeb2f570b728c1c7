"""Build webhook messages from alerts and render them to the bytes that get signed and sent."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence

from pipeline.alerts.models import ZERO_TIME, Alert, AlertStatus, PlainAlert, PlainMessage, WebhookAlert, WebhookMessage
from pipeline.alerts.settings import WebhookFormat

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"


def build_webhook_message(
    alerts: Sequence[Alert],
    *,
    receiver: str,
    group_labels: Mapping[str, str] | None = None,
    max_alerts: int = 0,
    external_url: str = "",
) -> WebhookMessage:
    """Build an Alertmanager webhook message (version 4) from a group of alerts.

    Common labels and annotations are computed over all alerts, including those that the
    cap ``max_alerts`` leaves out; 0 means no cap.

    Raises:
        ValueError: ``alerts`` is empty.
    """
    _check_not_empty(alerts)
    included, truncated = _cap(alerts, max_alerts)
    group = dict(group_labels or {})
    return WebhookMessage(
        group_key=group_key(receiver, group),
        truncated_alerts=truncated,
        status=_group_status(alerts),
        receiver=receiver,
        group_labels=group,
        common_labels=_common(alert.labels for alert in alerts),
        common_annotations=_common(alert.annotations for alert in alerts),
        external_url=external_url,
        alerts=[
            WebhookAlert(
                status=alert.status,
                labels=alert.labels,
                annotations=alert.annotations,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at or ZERO_TIME,
                generator_url=alert.generator_url,
                fingerprint=alert.fingerprint,
            )
            for alert in included
        ],
    )


def build_plain_message(alerts: Sequence[Alert], *, receiver: str, max_alerts: int = 0) -> PlainMessage:
    """Build a plain message from a group of alerts, capped at ``max_alerts`` (0: no cap).

    Raises:
        ValueError: ``alerts`` is empty.
    """
    _check_not_empty(alerts)
    included, truncated = _cap(alerts, max_alerts)
    return PlainMessage(
        status=_group_status(alerts),
        receiver=receiver,
        truncated_alerts=truncated,
        alerts=[
            PlainAlert(
                fingerprint=alert.fingerprint,
                status=alert.status,
                labels=alert.labels,
                annotations=alert.annotations,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                generator_url=alert.generator_url,
            )
            for alert in included
        ],
    )


def render_body(
    alerts: Sequence[Alert],
    *,
    format: WebhookFormat,
    receiver: str,
    group_labels: Mapping[str, str] | None = None,
    max_alerts: int = 0,
) -> bytes:
    """Render a group of alerts to the JSON body of one webhook request.

    The bytes are fixed here, before any attempt, so the outbox stores and every retry
    sends exactly the same body.
    """
    if format == "alertmanager":
        message: WebhookMessage | PlainMessage = build_webhook_message(
            alerts, receiver=receiver, group_labels=group_labels, max_alerts=max_alerts
        )
    else:
        message = build_plain_message(alerts, receiver=receiver, max_alerts=max_alerts)
    if message.truncated_alerts:
        logger.warning(
            "alerts left out of webhook message receiver=%s kept=%d truncated_alerts=%d",
            receiver, len(message.alerts), message.truncated_alerts,
        )
    return message.model_dump_json(by_alias=True).encode()


def group_key(receiver: str, group_labels: Mapping[str, str]) -> str:
    """Return the key that identifies a group of alerts: receiver and sorted group labels."""
    pairs = ",".join(f"{name}={json.dumps(group_labels[name])}" for name in sorted(group_labels))
    return f"{receiver}:{{{pairs}}}"


def _check_not_empty(alerts: Sequence[Alert]) -> None:
    if not alerts:
        raise ValueError("a webhook message needs at least one alert, got none")


def _cap(alerts: Sequence[Alert], max_alerts: int) -> tuple[Sequence[Alert], int]:
    if max_alerts <= 0 or len(alerts) <= max_alerts:
        return alerts, 0
    return alerts[:max_alerts], len(alerts) - max_alerts


def _group_status(alerts: Sequence[Alert]) -> AlertStatus:
    return "firing" if any(alert.status == "firing" for alert in alerts) else "resolved"


def _common(label_sets: Iterable[Mapping[str, str]]) -> dict[str, str]:
    common: dict[str, str] | None = None
    for labels in label_sets:
        if common is None:
            common = dict(labels)
        else:
            common = {name: value for name, value in common.items() if labels.get(name) == value}
    return common or {}
