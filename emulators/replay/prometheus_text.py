r"""A reader of the Prometheus text exposition format: ``name{label="v",...} value [timestamp]``.

Handled syntax: ``#`` comment, HELP and TYPE lines (skipped), label values with the
escapes ``\\``, ``\"`` and ``\n``, the values NaN, +Inf and -Inf, and an optional
timestamp in milliseconds. Integer literals stay ``int`` so that large counters and
DCGM's blank sentinels keep every digit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from emulators.replay.errors import ReplayParseError

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INTEGER = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_SPECIAL_VALUES = {"NaN": math.nan, "+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}
_LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


@dataclass(frozen=True)
class Sample:
    """One sample line: metric name, labels, value and optional timestamp in ms."""

    name: str
    labels: dict[str, str]
    value: int | float
    timestamp_ms: int | None


def iter_samples(lines: Iterable[str], source: str) -> Iterator[tuple[int, Sample]]:
    """Yield ``(line_number, sample)`` for each sample line, skipping blanks and comments.

    Raises:
        ReplayParseError: a line is not in the text exposition format.
    """
    for line, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield line, parse_sample(stripped)
        except ValueError as exc:
            raise ReplayParseError(source, line, f"invalid Prometheus text: {exc}") from None


def parse_sample(text: str) -> Sample:
    """Parse one sample line.

    Raises:
        ValueError: the line does not follow the format; the message names the position.
    """
    match = _NAME.match(text)
    if match is None:
        raise ValueError(f"line does not start with a metric name: {text[:40]!r}")
    name = match.group()
    position = match.end()

    labels: dict[str, str] = {}
    if position < len(text) and text[position] == "{":
        labels, position = _parse_labels(text, position + 1)

    parts = text[position:].split()
    if len(parts) not in (1, 2):
        raise ValueError(f"expected a value and an optional timestamp after {name}, found {len(parts)} items")
    value = _parse_value(parts[0])
    timestamp = None
    if len(parts) == 2:
        if not _INTEGER.match(parts[1]):
            raise ValueError(f"timestamp {parts[1]!r} is not an integer of milliseconds")
        timestamp = int(parts[1])
    return Sample(name, labels, value, timestamp)


def _parse_labels(text: str, position: int) -> tuple[dict[str, str], int]:
    labels: dict[str, str] = {}
    while True:
        while position < len(text) and text[position] == " ":
            position += 1
        if position < len(text) and text[position] == "}":
            return labels, position + 1
        match = _LABEL_NAME.match(text, position)
        if match is None:
            raise ValueError(f"invalid label name at column {position + 1}")
        label = match.group()
        position = match.end()
        if text[position : position + 2] != '="':
            raise ValueError(f"label {label} is not followed by =\"value\"")
        value, position = _scan_label_value(text, position + 2)
        labels[label] = value
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "}":
            raise ValueError(f"expected ',' or '}}' after label {label}")


def _scan_label_value(text: str, position: int) -> tuple[str, int]:
    value: list[str] = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            escaped = _LABEL_ESCAPES.get(text[position + 1])
            if escaped is None:
                raise ValueError(f"invalid escape \\{text[position + 1]} in a label value")
            value.append(escaped)
            position += 2
            continue
        if char == '"':
            return "".join(value), position + 1
        value.append(char)
        position += 1
    raise ValueError("label value has no closing quote")


def _parse_value(token: str) -> int | float:
    if token in _SPECIAL_VALUES:
        return _SPECIAL_VALUES[token]
    if _INTEGER.match(token):
        return int(token)
    if _FLOAT.match(token):
        return float(token)
    raise ValueError(f"value {token!r} is not a number")
