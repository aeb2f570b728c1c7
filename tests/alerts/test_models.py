"""Tests of alert models, fingerprints and message building."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.alerts.message import build_plain_message, build_webhook_message, group_key, render_body
from pipeline.alerts.models import ZERO_TIME, Alert, PlainMessage, WebhookMessage, fingerprint
from tests.alerts.conftest import START, make_alert, make_resolved

V4_KEYS = {
    "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
    "commonLabels", "commonAnnotations", "externalURL", "alerts",
}
V4_ALERT_KEYS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}


def test_fingerprint_ignores_label_order() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": "1"}, {"a": "2"}),
        ({"a": "1"}, {"b": "1"}),
        ({"a": "1", "b": "2"}, {"a": "1"}),
        ({"ab": "c"}, {"a": "bc"}),
    ],
    ids=["value", "name", "extra-label", "boundary-shift"],
)
def test_fingerprint_differs_for_other_labels(left: dict[str, str], right: dict[str, str]) -> None:
    assert fingerprint(left) != fingerprint(right)


def test_fingerprint_is_16_hex_digits() -> None:
    value = fingerprint({"alertname": "GpuXid"})
    assert len(value) == 16
    assert int(value, 16) >= 0


def test_fingerprint_is_stable_across_runs() -> None:
    # A fixed value: a change here breaks matching of resolved to firing notifications.
    assert fingerprint({"alertname": "GpuXid", "node": "r000-n00"}) == "5e6117601968a96c"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"status": "resolved"}, "needs ends_at"),
        ({"ends_at": START - timedelta(seconds=1)}, "before starts_at"),
        ({"labels": {}}, "at least 1"),
        ({"labels": {"bad-name": "x"}}, "invalid label"),
        ({"starts_at": START.replace(tzinfo=None)}, "timezone"),
    ],
    ids=["resolved-without-end", "end-before-start", "no-labels", "label-name", "naive-time"],
)
def test_alert_rejects_invalid(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_alert(**overrides)


def test_webhook_message_has_v4_fields() -> None:
    message = build_webhook_message([make_alert()], receiver="ops", group_labels={"alertname": "GpuXid"})
    document = json.loads(message.model_dump_json(by_alias=True))
    assert set(document) == V4_KEYS
    assert set(document["alerts"][0]) == V4_ALERT_KEYS
    assert document["version"] == "4"


def test_webhook_message_firing_times() -> None:
    document = json.loads(build_webhook_message([make_alert()], receiver="ops").model_dump_json(by_alias=True))
    alert = document["alerts"][0]
    assert alert["startsAt"] == "2026-01-01T12:00:00Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["status"] == "firing"
    assert document["status"] == "firing"


def test_webhook_message_resolved() -> None:
    document = json.loads(build_webhook_message([make_resolved(make_alert())], receiver="ops").model_dump_json(by_alias=True))
    assert document["status"] == "resolved"
    assert document["alerts"][0]["status"] == "resolved"
    assert document["alerts"][0]["endsAt"] == "2026-01-01T12:05:00Z"


def test_webhook_message_firing_when_any_fires() -> None:
    alerts = [make_resolved(make_alert(node="r000-n00")), make_alert(node="r000-n01")]
    assert build_webhook_message(alerts, receiver="ops").status == "firing"


def test_webhook_message_common_labels() -> None:
    alerts = [make_alert(node="r000-n00"), make_alert(node="r000-n01")]
    message = build_webhook_message(alerts, receiver="ops")
    assert message.common_labels == {"alertname": "GpuXid", "cluster": "test", "rack": "r000", "severity": "critical"}
    assert message.common_annotations == {}


def test_webhook_message_fingerprint_matches_alert() -> None:
    alert = make_alert()
    message = build_webhook_message([alert], receiver="ops")
    assert message.alerts[0].fingerprint == alert.fingerprint


def test_webhook_message_truncates_to_cap() -> None:
    alerts = [make_alert(node=f"r000-n{index:02d}") for index in range(5)]
    message = build_webhook_message(alerts, receiver="ops", max_alerts=2)
    assert len(message.alerts) == 2
    assert message.truncated_alerts == 3
    assert [alert.labels["node"] for alert in message.alerts] == ["r000-n00", "r000-n01"]


@pytest.mark.parametrize("max_alerts", [0, 5, 10], ids=["no-cap", "at-cap", "above"])
def test_webhook_message_untruncated(max_alerts: int) -> None:
    alerts = [make_alert(node=f"r000-n{index:02d}") for index in range(5)]
    message = build_webhook_message(alerts, receiver="ops", max_alerts=max_alerts)
    assert len(message.alerts) == 5
    assert message.truncated_alerts == 0


def test_webhook_message_rejects_empty() -> None:
    with pytest.raises(ValueError, match="at least one alert"):
        build_webhook_message([], receiver="ops")


def test_group_key_sorts_labels() -> None:
    assert group_key("ops", {"rack": "r1", "alertname": "A"}) == 'ops:{alertname="A",rack="r1"}'


def test_webhook_message_round_trip() -> None:
    body = render_body([make_alert(), make_resolved(make_alert(node="r000-n01"))], format="alertmanager", receiver="ops")
    parsed = WebhookMessage.model_validate_json(body)
    assert parsed.alerts[0].ends_at == ZERO_TIME
    assert parsed.alerts[1].status == "resolved"
    assert parsed.receiver == "ops"


def test_plain_message_fields() -> None:
    alerts = [make_alert(node="r000-n00"), make_alert(node="r000-n01"), make_alert(node="r000-n02")]
    document = json.loads(render_body(alerts, format="plain", receiver="ops", max_alerts=2))
    assert document["format"] == "qianliyan.plain"
    assert document["truncated_alerts"] == 1
    assert len(document["alerts"]) == 2
    assert document["alerts"][0]["ends_at"] is None
    assert document["alerts"][0]["starts_at"] == "2026-01-01T12:00:00Z"


def test_plain_message_round_trip() -> None:
    message = build_plain_message([make_resolved(make_alert())], receiver="ops")
    parsed = PlainMessage.model_validate_json(message.model_dump_json())
    assert parsed == message
    assert parsed.status == "resolved"


def test_render_body_logs_truncation(caplog: pytest.LogCaptureFixture) -> None:
    alerts = [make_alert(node=f"r000-n{index:02d}") for index in range(3)]
    caplog.set_level("WARNING", logger="pipeline.alerts.message")
    render_body(alerts, format="alertmanager", receiver="ops", max_alerts=1)
    assert "truncated_alerts=2" in caplog.text


def test_alert_is_frozen() -> None:
    alert = make_alert()
    with pytest.raises(ValidationError):
        alert.status = "resolved"


def test_alert_converts_time_to_utc() -> None:
    alert = Alert(labels={"alertname": "A"}, starts_at="2026-01-01T14:00:00+02:00")  # type: ignore[arg-type]
    document = json.loads(build_webhook_message([alert], receiver="ops").model_dump_json(by_alias=True))
    assert document["alerts"][0]["startsAt"] == "2026-01-01T12:00:00Z"
