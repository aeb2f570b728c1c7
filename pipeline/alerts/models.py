"""Alert and webhook payload models (pydantic v2).

:class:`Alert` is the input: what any producer (correlator, policy, a test) wants to
notify. :class:`WebhookMessage` is the Alertmanager webhook payload of version 4, with the
same field names, so existing Alertmanager webhook consumers read it unchanged.
:class:`PlainMessage` is a flat snake_case alternative for simple scripts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

AlertStatus = Literal["firing", "resolved"]

# Alertmanager writes this time as endsAt of an alert that has no end yet.
ZERO_TIME: Final = datetime(1, 1, 1, tzinfo=timezone.utc)

# Prometheus label names: Alertmanager's API rejects others.
_LABEL_NAME: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return a stable 16-hex-digit hash of a label set, independent of label order.

    Two alerts with the same labels have the same fingerprint, which is how receivers
    match a resolved notification to its firing one. The hash is SHA-256 over the sorted
    name and value pairs, each followed by the byte 0xff, which cannot occur in UTF-8 text.
    It differs from Alertmanager's own fingerprint, which uses FNV-1a.
    """
    digest = hashlib.sha256()
    for name in sorted(labels):
        digest.update(name.encode())
        digest.update(b"\xff")
        digest.update(labels[name].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]


class Alert(BaseModel):
    """One alert to notify, independent of what produced it.

    ``labels`` identify the alert (``alertname`` by convention, plus scope labels such as
    ``cluster``, ``rack``, ``node``), ``annotations`` carry text for people.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    status: AlertStatus = "firing"
    generator_url: str = ""

    @field_validator("labels", "annotations")
    @classmethod
    def _check_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"invalid label or annotation name {name!r}; use letters, digits and '_', not starting with a digit")
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    @model_validator(mode="after")
    def _check_times(self) -> Alert:
        if self.status == "resolved" and self.ends_at is None:
            raise ValueError("a resolved alert needs ends_at, the time it stopped")
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError(f"ends_at {self.ends_at.isoformat()} is before starts_at {self.starts_at.isoformat()}")
        return self

    @property
    def fingerprint(self) -> str:
        """Hash of the labels, see :func:`fingerprint`."""
        return fingerprint(self.labels)


class _WireModel(BaseModel):
    """Wire models: camelCase on the wire, snake_case in Python, unknown fields ignored.

    Fields set separate validation and serialization aliases, not ``alias``, so type
    checkers keep the snake_case names as constructor arguments.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class WebhookAlert(_WireModel):
    """One alert inside an Alertmanager webhook message."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(validation_alias="startsAt", serialization_alias="startsAt")
    ends_at: datetime = Field(default=ZERO_TIME, validation_alias="endsAt", serialization_alias="endsAt", description="ZERO_TIME while the alert has no end.")
    generator_url: str = Field(default="", validation_alias="generatorURL", serialization_alias="generatorURL")
    fingerprint: str


class WebhookMessage(_WireModel):
    """Alertmanager webhook payload, version 4.

    ``status`` is ``firing`` when at least one alert fires. ``truncated_alerts`` counts the
    alerts left out because of the per-message cap.
    """

    version: Literal["4"] = "4"
    group_key: str = Field(validation_alias="groupKey", serialization_alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, validation_alias="truncatedAlerts", serialization_alias="truncatedAlerts")
    status: AlertStatus
    receiver: str
    group_labels: dict[str, str] = Field(default_factory=dict, validation_alias="groupLabels", serialization_alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, validation_alias="commonLabels", serialization_alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, validation_alias="commonAnnotations", serialization_alias="commonAnnotations")
    external_url: str = Field(default="", validation_alias="externalURL", serialization_alias="externalURL")
    alerts: list[WebhookAlert]


class PlainAlert(_WireModel):
    """One alert inside a plain message."""

    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""


class PlainMessage(_WireModel):
    """Flat snake_case payload for receivers that do not speak Alertmanager's format."""

    format: Literal["qianliyan.plain"] = "qianliyan.plain"
    version: Literal[1] = 1
    status: AlertStatus
    receiver: str
    truncated_alerts: int = Field(default=0, ge=0)
    alerts: list[PlainAlert]
