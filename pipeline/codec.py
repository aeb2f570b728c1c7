"""Decode raw Kafka values into validated messages, and encode messages for Kafka."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from pipeline.errors import InvalidMessageError
from pipeline.schemas import Envelope, model_for_topic

MAX_REASON_CHARS = 1_000
MAX_ERRORS_IN_REASON = 5


def decode(topic: str, raw: bytes | None, max_bytes: int) -> Envelope:
    """Decode and validate one message from an input topic (name without prefix).

    Raises:
        InvalidMessageError: the value is empty, too large, not JSON, not an object,
            or fails its schema. The reason names the first failing fields.
    """
    if not raw:
        raise InvalidMessageError("empty message value")
    if len(raw) > max_bytes:
        raise InvalidMessageError(f"message of {len(raw)} bytes exceeds the limit of {max_bytes} bytes")

    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessageError(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidMessageError(f"expected a JSON object, got {type(document).__name__}")

    model = model_for_topic(topic)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise InvalidMessageError(describe_validation_error(exc, model.__name__)) from exc


def describe_validation_error(exc: ValidationError, model_name: str) -> str:
    """Summarise a pydantic error on one line: field path, message and the bad input."""
    parts = []
    for error in exc.errors(include_url=False)[:MAX_ERRORS_IN_REASON]:
        location = ".".join(str(item) for item in error["loc"]) or "(message)"
        text = f"{location}: {error['msg']}"
        if error["type"] not in {"missing", "model_type"} and "input" in error:
            text += f" (got {_short_repr(error['input'])})"
        parts.append(text)
    hidden = exc.error_count() - len(parts)
    if hidden > 0:
        parts.append(f"and {hidden} more errors")
    reason = f"invalid {model_name}: " + "; ".join(parts)
    return reason[:MAX_REASON_CHARS]


def encode(message: BaseModel | dict[str, Any]) -> bytes:
    """Encode a message (model or JSON-ready dict) as compact JSON without null fields."""
    if isinstance(message, BaseModel):
        return message.model_dump_json(exclude_none=True).encode()
    return orjson.dumps(message)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
