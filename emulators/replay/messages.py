"""Build validated Kafka records from parsed values."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from emulators.cluster import Record
from emulators.replay.errors import ReplayParseError
from pipeline.codec import describe_validation_error
from pipeline.schemas import as_json_dict

_NOT_ENTITY_CHARS = re.compile(r"[^A-Za-z0-9_.:/-]+")
MAX_ENTITY_CHARS = 128
ModelT = TypeVar("ModelT", bound=BaseModel)


def build_record(topic: str, key: str, model: type[BaseModel], value: dict[str, Any], source: str, line: int | None) -> Record:
    """Validate ``value`` against ``model`` and return it as a record in wire form.

    Raises:
        ReplayParseError: the value fails the schema; the message names ``source`` and
            ``line`` and the failing fields.
    """
    return Record(topic, key, as_json_dict(validate(model, value, source, line)))


def validate(model: type[ModelT], value: dict[str, Any], source: str, line: int | None) -> ModelT:
    """Return ``value`` validated as ``model``.

    Raises:
        ReplayParseError: the value fails the schema; the message names ``source``,
            ``line`` and the failing fields.
    """
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ReplayParseError(source, line, describe_validation_error(exc, model.__name__)) from exc


def entity_name(text: str) -> str:
    """Return ``text`` as a valid entity id: other characters become '-', at most 128 characters."""
    name = _NOT_ENTITY_CHARS.sub("-", text.strip()).strip("-")
    return name[:MAX_ENTITY_CHARS] or "unknown"
