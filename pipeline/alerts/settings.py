"""Settings of the alert webhook, its retries and its outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

WebhookFormat = Literal["alertmanager", "plain"]


class AlertSettings(BaseModel):
    """Destination, format, retry policy and outbox of alert notifications.

    The webhook URL is a secret because chat and paging services put their access token in
    the URL path.
    """

    webhook_url: SecretStr | None = Field(default=None, description="http or https URL; None disables the webhook.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key; when set, every request carries X-Qianliyan-Signature."
    )
    format: WebhookFormat = Field(
        default="alertmanager", description="'alertmanager' for the webhook version 4 payload, 'plain' for flat JSON."
    )
    receiver: str = Field(default="qianliyan", min_length=1, description="Receiver name written into each message.")
    max_alerts_per_message: int = Field(
        default=100, ge=0, description="Alerts beyond this count are left out and counted in truncatedAlerts; 0 means no limit."
    )
    timeout_ms: int = Field(default=10_000, ge=100, description="Timeout of one HTTP request.")
    max_attempts: int = Field(default=5, ge=1, description="HTTP attempts per delivery, the first one included.")
    retry_initial_delay_seconds: float = Field(default=0.5, gt=0, description="Backoff before the second attempt.")
    max_retry_delay_seconds: float = Field(default=30.0, gt=0, description="Cap of the exponential backoff.")
    outbox_path: Path = Field(default=Path("qianliyan-alerts-outbox.sqlite3"), description="SQLite file of the outbox.")
    outbox_expiry_seconds: float = Field(
        default=3_600.0, gt=0, description="A notification still undelivered this long after enqueue is marked failed."
    )
    outbox_retention_seconds: float = Field(
        default=7 * 86_400.0, gt=0, description="Sent and failed notifications are kept this long, so replays stay idempotent."
    )

    @field_validator("webhook_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL itself stays out of the message because it may carry a token.
            raise ValueError(
                f"webhook_url must be an http or https URL with a host, got scheme {parts.scheme!r}; "
                "set QIANLIYAN_ALERTS__WEBHOOK_URL to a URL such as https://alerts.example.com/hook"
            )
        return value

    @model_validator(mode="after")
    def _check_delays(self) -> AlertSettings:
        if self.max_retry_delay_seconds < self.retry_initial_delay_seconds:
            raise ValueError(
                f"max_retry_delay_seconds ({self.max_retry_delay_seconds}) is below retry_initial_delay_seconds "
                f"({self.retry_initial_delay_seconds}); raise the maximum or lower the initial delay"
            )
        if self.webhook_secret is not None and self.webhook_url is None:
            raise ValueError("webhook_secret is set but webhook_url is not; set both, or neither to disable the webhook")
        return self
