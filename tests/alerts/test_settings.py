"""Tests of the alert settings' checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.alerts.settings import AlertSettings


def test_settings_defaults_disable_webhook() -> None:
    settings = AlertSettings()
    assert settings.webhook_url is None
    assert settings.format == "alertmanager"


def test_settings_hide_url_in_repr() -> None:
    settings = AlertSettings(webhook_url="https://hooks.example.com/T0KEN")  # type: ignore[arg-type]
    assert "T0KEN" not in repr(settings)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"webhook_url": "ftp://example.com/x"}, "http or https"),
        ({"webhook_url": "https:///path"}, "http or https"),
        ({"webhook_secret": "s"}, "webhook_secret is set but webhook_url is not"),
        ({"retry_initial_delay_seconds": 10, "max_retry_delay_seconds": 1}, "below retry_initial_delay_seconds"),
        ({"format": "slack"}, "alertmanager"),
        ({"max_attempts": 0}, "greater than or equal to 1"),
    ],
    ids=["scheme", "no-host", "secret-without-url", "delays", "format", "attempts"],
)
def test_settings_reject_invalid(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        AlertSettings(**fields)


def test_settings_url_error_hides_url() -> None:
    with pytest.raises(ValidationError) as info:
        AlertSettings(webhook_url="ftp://example.com/T0KEN")  # type: ignore[arg-type]
    assert "T0KEN" not in str(info.value).split("input_value")[0]
