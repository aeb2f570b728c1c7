"""Scenario files: which faults to inject where and when, and whether to add random faults.

A scenario is YAML::

    faults:
      - kind: cdu_pump_failure      # a name from the fault catalog
        rack: r000                  # place: node (and gpu), rack or switch, as the kind needs
        start: 60                   # seconds after the first sample, or an ISO 8601 time
        duration: 600               # seconds; omit for the kind's default or until the end
      - kind: gpu_fell_off_bus
        node: r001-n02
        gpu: 3
        start: 120
        params: {precursor_seconds: 10}
    random:                         # optional: the random fault process and its settings
      rate_multiplier: 100
    job:                            # optional: job timing, see emulators.job.JobConfig
      manual_recovery_seconds: 300
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from emulators.faults.base import Fault, ParamValue
from emulators.faults.catalog import fault_kind
from emulators.faults.injector import check_fault
from emulators.faults.random_process import RandomFaultConfig
from emulators.job import JobConfig
from emulators.topology import Topology


class ScenarioFault(BaseModel):
    """One fault of a scenario file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    start: Annotated[float, Field(ge=0)] | AwareDatetime = Field(description="Seconds after the first sample, or an ISO 8601 time.")
    duration: Annotated[float, Field(ge=0)] | None = Field(default=None, description="Seconds; None for the kind's default.")
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:/-]+$", max_length=128)
    node: str | None = None
    gpu: int | None = None
    rack: str | None = None
    switch: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)

    @field_validator("start", mode="before")
    @classmethod
    def _check_offset(cls, value: object) -> object:
        # A negative number would otherwise pass as a Unix timestamp.
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"start must be 0 or more seconds after the first sample, got {value}")
        return value


class ScenarioJob(BaseModel):
    """Job timing that a scenario overrides; unset fields keep the :class:`~emulators.job.JobConfig` defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint_every_steps: int | None = Field(default=None, ge=1)
    checkpoint_seconds: float | None = Field(default=None, ge=0)
    restart_seconds: float | None = Field(default=None, ge=0)
    spare_swap_seconds: float | None = Field(default=None, ge=0)
    nccl_timeout_seconds: float | None = Field(default=None, ge=0)
    manual_recovery_seconds: float | None = Field(default=None, ge=0)

    def apply(self, config: JobConfig) -> JobConfig:
        """Return ``config`` with the fields this scenario sets."""
        return replace(config, **self.model_dump(exclude_unset=True))


class Scenario(BaseModel):
    """A scenario file: listed faults, an optional random process and job timing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: list[ScenarioFault] = Field(default_factory=list)
    random: RandomFaultConfig | None = None
    job: ScenarioJob = Field(default_factory=ScenarioJob)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; kinds are checked here, places when the topology is known.

    Raises:
        ValueError: the file is not valid YAML, does not match the scenario format, or names an unknown fault kind.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML in scenario file {path}: {exc}") from exc
    try:
        scenario = Scenario.model_validate(data or {})
    except ValidationError as exc:
        raise ValueError(f"invalid scenario file {path}:\n{exc}") from exc
    for index, item in enumerate(scenario.faults):
        try:
            fault_kind(item.kind)
        except ValueError as exc:
            raise ValueError(f"scenario file {path}, fault {index}: {exc}") from exc
    return scenario


class ScenarioSource:
    """Hands out a scenario's faults once their start has come; relative starts count from the first sample."""

    def __init__(self, scenario: Scenario, topology: Topology, name: str = "scenario") -> None:
        self.scenario = scenario
        self.topology = topology
        self.name = name
        self.pending: list[Fault] | None = None

    def resolve(self, origin: datetime) -> list[Fault]:
        """Return the scenario's faults with absolute start times, checked against the topology.

        Raises:
            ValueError: a fault names an unknown place or parameter; the message names its index.
        """
        faults = []
        for index, item in enumerate(self.scenario.faults):
            start = item.start if isinstance(item.start, datetime) else origin + timedelta(seconds=item.start)
            fault_id = item.id or f"{self.name}-{index:03d}-{item.kind}"
            try:
                fault = Fault(
                    fault_id=fault_id,
                    kind=item.kind,
                    start=start,
                    duration_seconds=item.duration,
                    node=None if item.node is None else self.topology.node_index(item.node),
                    gpu=item.gpu,
                    rack=None if item.rack is None else self.topology.rack_index(item.rack),
                    switch=None if item.switch is None else self.topology.switch_index(item.switch),
                    params=dict(item.params),
                )
                check_fault(fault, self.topology)
            except ValueError as exc:
                raise ValueError(f"scenario fault {index} ({item.kind}): {exc}") from exc
            faults.append(fault)
        return sorted(faults, key=lambda fault: fault.start)

    def due(self, now: datetime) -> list[Fault]:
        """Return the faults that start at or before ``now`` and were not returned before."""
        if self.pending is None:
            self.pending = self.resolve(now)
        ready = [fault for fault in self.pending if fault.start <= now]
        self.pending = [fault for fault in self.pending if fault.start > now]
        return ready
