"""The contract of a fault kind, one injected fault, and what a kind may touch while active."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from emulators.effects import Effects
from emulators.records import Record, format_time
from emulators.topology import Topology
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION, FaultScope

if TYPE_CHECKING:
    from emulators.job import TrainingJob

Onset = Literal["instant", "fast", "gradual"]
Severity = Literal["info", "warning", "critical"]
ParamValue = float | int | str | bool


@dataclass
class Fault:
    """One fault to inject: its kind, place, start and duration.

    ``duration_seconds`` None means the fault lasts until the run ends, or, for kinds
    that a restart clears, until the job restarts. ``state`` is the kind's memory
    between samples.
    """

    fault_id: str
    kind: str
    start: datetime
    duration_seconds: float | None = None
    node: int | None = None
    gpu: int | None = None
    rack: int | None = None
    switch: int | None = None
    params: dict[str, ParamValue] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> datetime | None:
        """Planned end, None when open-ended."""
        return None if self.duration_seconds is None else self.start + timedelta(seconds=self.duration_seconds)

    def once(self, key: str) -> bool:
        """Return True the first time it is called with ``key`` for this fault, False after."""
        if key in self.state:
            return False
        self.state[key] = True
        return True


@dataclass
class FaultContext:
    """What a fault kind may read and change in one sample."""

    topology: Topology
    cluster: str
    now: datetime
    effects: Effects
    gpu_counters: dict[str, np.ndarray]
    job: TrainingJob
    events: list[Record] = field(default_factory=list)

    def emit(
        self,
        fault: Fault,
        kind: str,
        severity: Severity,
        message: str,
        *,
        node: int | None = None,
        gpu: int | None = None,
        rack: int | None = None,
        code: int | None = None,
    ) -> None:
        """Add one hardware event, keyed by node (or rack), with an id derived from the fault."""
        sequence = fault.state.get("_events", 0)
        fault.state["_events"] = sequence + 1
        value: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "time": format_time(max(self.now, fault.start) if fault.state.get("_started") else fault.start),
            "cluster": self.cluster,
            "event_id": f"{fault.fault_id}-{sequence}",
            "kind": kind,
            "severity": severity,
            "message": message,
            "source": "emulator",
        }
        if node is not None:
            value["node"] = self.topology.node_names[node]
            value["rack"] = self.topology.rack_of(node)
        elif rack is not None:
            value["rack"] = self.topology.rack_names[rack]
        if gpu is not None:
            value["gpu"] = gpu
        if code is not None:
            value["code"] = code
        key = value.get("node") or value["rack"]
        self.events.append(Record(topics.HARDWARE_EVENTS, key, value))

    def xid(self, fault: Fault, node: int, gpu: int, code: int, message: str, severity: Severity = "critical") -> None:
        """Report Xid ``code`` on one GPU: a hardware event and the DCGM last-Xid gauge."""
        self.gpu_counters["DCGM_FI_DEV_XID_ERRORS"][node, gpu] = code
        self.emit(fault, "xid", severity, f"Xid {code}: {message}", node=node, gpu=gpu, code=code)


class FaultKind:
    """One kind of fault from the taxonomy: its place, onset and signature.

    Subclasses set the class attributes and override :meth:`begin` (once, at onset),
    :meth:`apply` (every sample while active) and :meth:`finish` (once, at the end).
    ``defaults`` lists every parameter a scenario may set, with its default.
    """

    name: ClassVar[str]
    scope: ClassVar[FaultScope]
    onset: ClassVar[Onset]
    summary: ClassVar[str]
    default_duration_seconds: ClassVar[float | None] = None
    ends_on_restart: ClassVar[bool] = False
    defaults: ClassVar[dict[str, ParamValue]] = {}

    def param(self, fault: Fault, name: str) -> Any:
        """Return parameter ``name`` of ``fault``, or the kind's default."""
        return fault.params.get(name, self.defaults[name])

    def begin(self, fault: Fault, ctx: FaultContext) -> None:
        """Apply the one-off changes at onset: events, counter jumps."""

    def apply(self, fault: Fault, age_seconds: float, ctx: FaultContext) -> None:
        """Write this sample's effects; ``age_seconds`` is the time since onset."""

    def finish(self, fault: Fault, ctx: FaultContext) -> None:
        """Apply the one-off changes at the end: recovery events."""


def ramp(age_seconds: float, seconds: float) -> float:
    """Return how far a linear ramp of ``seconds`` has come after ``age_seconds``, from 0 to 1."""
    if seconds <= 0:
        return 1.0
    return min(max(age_seconds / seconds, 0.0), 1.0)
