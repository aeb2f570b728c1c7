"""Read docs/influxdb-schema.md and the identifiers that an InfluxQL query references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "influxdb-schema.md"

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)+)"')
_ALIAS = re.compile(r'\bAS\s+"((?:[^"\\]|\\.)+)"', re.IGNORECASE)
_FROM = re.compile(r'\bFROM\s+"(\w+)"', re.IGNORECASE)
_FUNCTION_ARGUMENT = re.compile(r'\w+\(\s*"((?:[^"\\]|\\.)+)"')
_SHOW_KEY = re.compile(r'WITH KEY = "(\w+)"')


@dataclass
class Measurement:
    """One measurement of the schema document."""

    name: str
    planned: bool = False
    tags: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    field_types: dict[str, str] = field(default_factory=dict, compare=False)


def read_schema(path: Path = SCHEMA_DOC) -> dict[str, Measurement]:
    """Return the measurements under "## Measurements", by name."""
    text = path.read_text(encoding="utf-8").split("## Measurements", 1)[1]
    measurements: dict[str, Measurement] = {}
    current: Measurement | None = None
    for line in text.splitlines():
        if line.startswith("### "):
            current = Measurement(line[4:].strip())
            measurements[current.name] = current
        elif current is None:
            continue
        elif line.startswith("**Planned.**"):
            current.planned = True
        elif line.startswith("Tags:"):
            current.tags = set(re.findall(r"`(\w+)`", line))
        elif line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            name = cells[0].strip("`")
            current.fields.add(name)
            current.field_types[name] = cells[1]
    return measurements


@dataclass(frozen=True)
class References:
    """Measurements, identifiers and function arguments that one query names."""

    measurements: frozenset[str]
    identifiers: frozenset[str]
    function_arguments: frozenset[str]
    aliases: frozenset[str]


def references(query: str) -> References:
    """Return what a query references; identifiers exclude measurement names and aliases."""
    measurements = set(_FROM.findall(query))
    aliases = set(_ALIAS.findall(query))
    identifiers = set(_QUOTED.findall(query)) - measurements - aliases
    identifiers.update(_SHOW_KEY.findall(query))
    arguments = set(_FUNCTION_ARGUMENT.findall(query)) - aliases
    return References(frozenset(measurements), frozenset(identifiers), frozenset(arguments), frozenset(aliases))
