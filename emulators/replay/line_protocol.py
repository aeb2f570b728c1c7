"""A reader of InfluxDB line protocol: ``measurement,tag=v field=v timestamp``.

Handled syntax: backslash escapes for commas, spaces and equals signs in names and tag
values, double-quoted string fields with escaped quotes, ``i`` and ``u`` suffixes for
signed and unsigned integers, the boolean spellings t/true/f/false, and an optional
integer timestamp.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from emulators.replay.errors import ReplayParseError

FieldValue = float | int | bool | str

_FLOAT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
TRUE_WORDS: Final = frozenset({"t", "T", "true", "True", "TRUE"})
FALSE_WORDS: Final = frozenset({"f", "F", "false", "False", "FALSE"})


@dataclass(frozen=True)
class Point:
    """One parsed line: measurement, tags, fields and the optional integer timestamp."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    timestamp: int | None


def iter_points(lines: Iterable[str], source: str) -> Iterator[tuple[int, Point]]:
    """Yield ``(line_number, point)`` for each line, skipping blank lines and ``#`` comments.

    Raises:
        ReplayParseError: a line is not valid line protocol.
    """
    for line, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield line, parse_line(stripped)
        except ValueError as exc:
            raise ReplayParseError(source, line, f"invalid line protocol: {exc}") from None


def parse_line(text: str) -> Point:
    """Parse one line of line protocol.

    Raises:
        ValueError: the line does not follow the format; the message names the position.
    """
    measurement, position = _scan(text, 0, ", ", ", ")
    if not measurement:
        raise ValueError("missing measurement name")

    tags: dict[str, str] = {}
    while position < len(text) and text[position] == ",":
        key, position = _scan(text, position + 1, ",= ", ",= ")
        if position >= len(text) or text[position] != "=":
            raise ValueError(f"tag {key!r} has no '=' and value")
        value, position = _scan(text, position + 1, ", ", ",= ")
        if not key or not value:
            raise ValueError(f"empty tag key or value near column {position + 1}")
        tags[key] = value

    if position >= len(text) or text[position] != " ":
        raise ValueError("missing field set after the measurement and tags")
    fields, position = _parse_fields(text, position + 1)

    rest = text[position:].strip()
    timestamp: int | None = None
    if rest:
        if not _INTEGER.match(rest):
            raise ValueError(f"timestamp {rest!r} is not an integer")
        timestamp = int(rest)
    return Point(measurement, tags, fields, timestamp)


def _parse_fields(text: str, position: int) -> tuple[dict[str, FieldValue], int]:
    fields: dict[str, FieldValue] = {}
    while True:
        key, position = _scan(text, position, ",= ", ",= ")
        if not key or position >= len(text) or text[position] != "=":
            raise ValueError(f"field {key!r} has no '=' and value" if key else f"empty field key near column {position + 1}")
        position += 1
        if position < len(text) and text[position] == '"':
            value, position = _scan_string(text, position + 1)
            fields[key] = value
        else:
            raw, position = _scan(text, position, ", ", "")
            fields[key] = _field_value(key, raw)
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        return fields, position


def _field_value(key: str, raw: str) -> FieldValue:
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    if raw[-1:] in ("i", "u") and _INTEGER.match(raw[:-1]):
        number = int(raw[:-1])
        if raw.endswith("u") and number < 0:
            raise ValueError(f"field {key!r} is an unsigned integer below zero: {raw!r}")
        return number
    if _FLOAT.match(raw):
        value = float(raw)
        if math.isfinite(value):
            return value
    raise ValueError(f"field {key!r} has invalid value {raw!r}; expected a number, 123i, 123u, true/false or a quoted string")


def _scan(text: str, position: int, stops: str, escapable: str) -> tuple[str, int]:
    """Read up to the first unescaped character in ``stops``; return the token and its end."""
    token: list[str] = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in escapable + "\\":
            token.append(text[position + 1])
            position += 2
            continue
        if char in stops:
            break
        token.append(char)
        position += 1
    return "".join(token), position


def _scan_string(text: str, position: int) -> tuple[str, int]:
    """Read a string field from after its opening quote; return it and the position after the closing quote."""
    token: list[str] = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in '"\\':
            token.append(text[position + 1])
            position += 2
            continue
        if char == '"':
            return "".join(token), position + 1
        token.append(char)
        position += 1
    raise ValueError("string field has no closing quote")
