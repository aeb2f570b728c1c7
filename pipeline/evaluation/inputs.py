"""Load and check the emulator inputs of the pipeline evaluation, and size the emulator run to its scenario.

The scenario and topology are loaded and the scenario's places resolved against the
topology before any worker starts, with the checks that ``emulators.run.build_emulator``
runs, so that a malformed file fails in one line and not after a worker started.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final, TypeVar

import yaml
from pydantic import ValidationError

from emulators.faults.catalog import fault_kind
from emulators.faults.scenario import Scenario, ScenarioFault, ScenarioSource, load_scenario
from emulators.topology import Topology, load_topology

LoadedT = TypeVar("LoadedT")

MAX_COUNTED_FAULT_SECONDS: Final = 300.0
"""Duration that the default sample count gives a fault without a duration of its own.

Such a fault lasts its kind's default duration (up to 6 hours) or until the run ends. 300 s
leaves room for the slowest time-to-detect target (fail-slow faults, 120 s).
"""
NO_LISTED_FAULTS_SAMPLES: Final = 3600
"""Default samples of a scenario without listed faults (only random ones): one simulated hour."""


def one_line(exc: BaseException) -> str:
    """Return an error's message on one line, with the place and text of each pydantic or YAML problem in it."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        head = str(exc).splitlines()[0].rstrip(":")
        problems = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in cause.errors()]
        return f"{head}: {'; '.join(problems)}"
    if isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        head = str(exc).split(": ", 1)[0]
        mark = cause.problem_mark
        return f"{head}: {cause.problem or cause.context} at line {mark.line + 1}, column {mark.column + 1}"
    return re.sub(r"\s*\n\s*", " ", str(exc)).strip()


def load_emulator_inputs(scenario_path: Path | None, topology_path: Path, origin: datetime) -> tuple[Scenario | None, Topology]:
    """Load the topology and, when given, the scenario, and resolve every scenario fault on the topology.

    ``origin`` is the first sample's time, from which relative starts count.

    Raises:
        ValueError: a file is missing or malformed, a fault kind is unknown, or a fault names
            a place or parameter that the topology or kind lacks. The message is one line
            that names the file.
    """
    topology = _load_topology(topology_path)
    if scenario_path is None:
        return None, topology
    scenario = _load_scenario(scenario_path)
    try:
        ScenarioSource(scenario, topology).resolve(origin)
    except ValueError as exc:
        raise ValueError(f"scenario file {scenario_path} does not fit topology {topology_path}: {one_line(exc)}") from exc
    return scenario, topology


def _load_topology(path: Path) -> Topology:
    return _load_file(path, "topology", load_topology)


def _load_scenario(path: Path) -> Scenario:
    return _load_file(path, "scenario", load_scenario)


def _load_file(path: Path, file_kind: str, load: Callable[[Path], LoadedT]) -> LoadedT:
    if not path.is_file():
        raise ValueError(f"{file_kind} file {path} not found")
    try:
        return load(path)
    except (ValueError, OSError) as exc:
        raise ValueError(one_line(exc)) from exc


def scenario_samples(scenario: Scenario, origin: datetime, grace_seconds: float) -> int:
    """Return the samples (one second each) from ``origin`` to the end of the scenario's last fault plus ``grace_seconds``.

    A fault without a duration counts its kind's default duration, at most
    ``MAX_COUNTED_FAULT_SECONDS``. A fault that lasts until the run ends counts that maximum.
    """
    if not scenario.faults:
        return NO_LISTED_FAULTS_SAMPLES
    ends = [_start_offset(fault, origin) + counted_duration(fault) for fault in scenario.faults]
    return max(1, int(round(max(ends) + grace_seconds)))


def counted_duration(fault: ScenarioFault) -> float:
    """Return the seconds that the default sample count gives one scenario fault."""
    if fault.duration is not None:
        return fault.duration
    default = fault_kind(fault.kind).default_duration_seconds
    if default is None:
        return MAX_COUNTED_FAULT_SECONDS
    return min(default, MAX_COUNTED_FAULT_SECONDS)


def _start_offset(fault: ScenarioFault, origin: datetime) -> float:
    if isinstance(fault.start, datetime):
        # A start before the first sample makes the fault start with the first sample.
        return max(0.0, (fault.start - origin).total_seconds())
    return fault.start


def first_fault_start(faults: Sequence[ScenarioFault], origin: datetime) -> float | None:
    """Return the earliest start of the listed faults in seconds after ``origin``, None without faults."""
    return min((_start_offset(fault, origin) for fault in faults), default=None)
