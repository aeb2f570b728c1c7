"""The fault injector: starts, applies and ends faults in event time and reports ground truth."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np

from emulators.effects import Effects
from emulators.faults.base import Fault, FaultContext, FaultKind
from emulators.faults.catalog import fault_kind
from emulators.faults.truth import TruthLog, truth_record
from emulators.records import Record
from emulators.topology import Topology

if TYPE_CHECKING:
    from emulators.job import TrainingJob

logger = logging.getLogger(__name__)


class FaultSource(Protocol):
    """Something that hands out faults as event time passes: a scenario or a random process."""

    def due(self, now: datetime) -> list[Fault]:
        """Return the faults that start at or before ``now`` and were not returned before."""
        ...


class FaultInjector:
    """Active faults of one emulated cluster and the ground truth of every fault."""

    def __init__(self, topology: Topology, sources: Iterable[FaultSource] = (), truth_log: TruthLog | None = None) -> None:
        self.topology = topology
        self.sources = list(sources)
        self.truth_log = truth_log
        self.pending: list[Fault] = []
        self.active: list[tuple[Fault, FaultKind]] = []
        self.started = 0
        self.ended = 0

    def add(self, fault: Fault) -> None:
        """Schedule one fault after checking its kind, place and parameters.

        Raises:
            ValueError: the kind is unknown, the place does not fit its scope, or a parameter is unknown.
        """
        check_fault(fault, self.topology)
        self.pending.append(fault)
        self.pending.sort(key=lambda item: item.start)

    def advance(self, now: datetime, cluster: str, gpu_counters: dict[str, np.ndarray], job: TrainingJob) -> tuple[Effects, list[Record]]:
        """Start and end faults due by ``now`` and return this sample's effects and messages.

        The messages are the hardware events the faults raise and the ground-truth records
        of the faults that started or ended.
        """
        for source in self.sources:
            for fault in source.due(now):
                self.add(fault)

        effects = Effects(self.topology)
        ctx = FaultContext(self.topology, cluster, now, effects, gpu_counters, job)
        truth: list[Record] = []
        self._start_due(now, ctx, truth)
        self._apply_active(now, ctx, truth)
        for record in truth:
            if self.truth_log is not None:
                self.truth_log.write(record)
        return effects, ctx.events + truth

    def _start_due(self, now: datetime, ctx: FaultContext, truth: list[Record]) -> None:
        while self.pending and self.pending[0].start <= now:
            fault = self.pending.pop(0)
            kind = fault_kind(fault.kind)
            fault.state["_job_nodes"] = [self.topology.node_names[node] for node in sorted(ctx.job.members)]
            kind.begin(fault, ctx)
            fault.state["_started"] = True
            fault.state["_restarts"] = ctx.job.restarts
            self.active.append((fault, kind))
            self.started += 1
            truth.append(truth_record(fault, kind, self.topology, ctx.job.config.name, None, fault.state["_job_nodes"]))
            logger.info("fault started fault_id=%s kind=%s start=%s", fault.fault_id, kind.name, fault.start.isoformat())

    def _apply_active(self, now: datetime, ctx: FaultContext, truth: list[Record]) -> None:
        still_active = []
        for fault, kind in self.active:
            end = fault.end
            cleared = kind.ends_on_restart and ctx.job.restarts > fault.state["_restarts"]
            if (end is not None and end <= now) or cleared:
                kind.finish(fault, ctx)
                self._release_if_repaired(fault, ctx)
                end_time = now if cleared or end is None else end
                truth.append(truth_record(fault, kind, self.topology, ctx.job.config.name, end_time, fault.state["_job_nodes"]))
                self.ended += 1
                logger.info("fault ended fault_id=%s kind=%s end=%s", fault.fault_id, kind.name, end_time.isoformat())
                continue
            kind.apply(fault, (now - fault.start).total_seconds(), ctx)
            still_active.append((fault, kind))
        self.active = still_active


    def _release_if_repaired(self, fault: Fault, ctx: FaultContext) -> None:
        """Return the fault's node to service when no other active fault hits it."""
        if fault.node is None or fault.kind == "planned_maintenance":
            return
        if any(other.node == fault.node for other, _ in self.active if other is not fault):
            return
        ctx.job.release(fault.node)


def check_fault(fault: Fault, topology: Topology) -> None:
    """Check that a fault's kind exists, its place fits the kind's scope and its parameters are known.

    Raises:
        ValueError: naming the fault id and what to fix.
    """
    kind = fault_kind(fault.kind)
    needed = {"gpu": ("node", "gpu"), "node": ("node",), "rack": ("rack",), "switch": ("switch",)}.get(kind.scope, ())
    for name in needed:
        if getattr(fault, name) is None:
            raise ValueError(f"fault {fault.fault_id}: kind {kind.name} has scope {kind.scope} and needs '{name}'")
    limits = {
        "node": topology.node_count,
        "gpu": topology.gpus_per_node,
        "rack": topology.racks,
        "switch": len(topology.switch_names),
    }
    for name, limit in limits.items():
        value = getattr(fault, name)
        if value is not None and not 0 <= value < limit:
            raise ValueError(f"fault {fault.fault_id}: {name} index {value} is outside 0..{limit - 1} of this topology")
    unknown = sorted(set(fault.params) - set(kind.defaults))
    if unknown:
        known = ", ".join(sorted(kind.defaults)) or "none"
        raise ValueError(f"fault {fault.fault_id}: unknown parameter(s) {unknown} for kind {kind.name}; known: {known}")
    if fault.duration_seconds is None and kind.default_duration_seconds is not None:
        fault.duration_seconds = kind.default_duration_seconds
    if fault.duration_seconds is not None and fault.duration_seconds < 0:
        raise ValueError(f"fault {fault.fault_id}: duration must not be negative, got {fault.duration_seconds} s")
