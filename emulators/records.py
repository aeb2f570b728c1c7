"""The unit that every emulator produces: one message for one Kafka topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Record:
    """One message to publish: topic (without prefix), key and JSON-ready value."""

    topic: str
    key: str
    value: dict[str, Any]


def format_time(moment: datetime) -> str:
    """Return ``moment`` as the ISO 8601 UTC text with a ``Z`` suffix that messages carry."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
