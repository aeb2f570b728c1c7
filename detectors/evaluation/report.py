"""Plain-text tables and JSON-ready dicts of evaluation results."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return rows as a text table with columns aligned: text left, numbers right."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
    numeric = [all(_is_number(row[index]) for row in rows) and bool(rows) for index in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [value.rjust(width) if is_number else value.ljust(width) for value, width, is_number in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    separator = "  ".join("-" * width for width in widths)
    return "\n".join([line(list(headers)), separator, *(line(row) for row in cells)])


def as_json(value: Any) -> Any:
    """Return dataclasses, tuples and floats as JSON-ready values; NaN and infinity become None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: as_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
