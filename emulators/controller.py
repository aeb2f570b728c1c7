"""The controller: applies the policy's actions to the emulated job and cluster and reports each result.

Kinds and what they do here:

====================== ======== ====================================================================
kind                   target   effect
====================== ======== ====================================================================
warn, page             any      nothing; the result reports it
restart_in_place       job      restart from the last checkpoint on the same nodes
emergency_checkpoint   job      checkpoint now and go on; parameter ``pause: true`` waits for a restart
swap_spare             node     checkpoint (when running), replace the node with a hot spare, restart;
                                parameter ``spare`` picks the spare, ``at_checkpoint: true`` waits
                                for the next periodic checkpoint
exclude_node           node     restart without the node
cordon_node            node     never use the node as a spare; a member keeps running
cap_power              rack     cap the rack at ``power_limit_watts``, or ``power_cap_fraction`` of
                                its design power
isolate_rack           rack     move the job off the rack's nodes, cordon and power them off
====================== ======== ====================================================================

Each ``action_id`` is applied once: a repeat returns the first result again. A ``dry_run``
action changes nothing and returns status ``ok`` with what it would have done.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from emulators.cluster import ClusterEmulator
from emulators.gpu import GPU_MAX_WATTS
from emulators.messages import ACTION_RESULTS
from emulators.power import HOST_BUSY_WATTS
from emulators.records import Record
from pipeline.policy.models import ActionRequest, ActionResult, ActionStatus

logger = logging.getLogger(__name__)

NO_OP_KINDS = frozenset({"warn", "page"})


class ActionRejected(ValueError):
    """An action that does not fit the emulated cluster: unknown target, wrong job, no such spare."""


class Controller:
    """Apply actions to one :class:`~emulators.cluster.ClusterEmulator`, once per action id."""

    def __init__(self, emulator: ClusterEmulator) -> None:
        self.emulator = emulator
        self.results: dict[str, ActionResult] = {}

    def apply(self, request: ActionRequest, now: datetime) -> ActionResult:
        """Apply one action at event time ``now`` and return its result."""
        if request.action_id in self.results:
            logger.info("action repeated, not applied again action_id=%s kind=%s", request.action_id, request.kind)
            return self.results[request.action_id]

        status: ActionStatus = "ok"
        try:
            detail = self._describe(request) if request.dry_run else self._apply(request)
        except ActionRejected as exc:
            status, detail = "rejected", str(exc)
        except ValueError as exc:
            status, detail = "failed", str(exc)
        result = ActionResult(action_id=request.action_id, status=status, detail=detail[:1024], applied_at=now)
        self.results[request.action_id] = result
        logger.info(
            "action handled action_id=%s kind=%s target=%s status=%s dry_run=%s detail=%r",
            request.action_id, request.kind, request.target, status, request.dry_run, detail,
        )
        return result

    def _describe(self, request: ActionRequest) -> str:
        self._check_target(request)
        return f"dry run: would apply {request.kind} to {request.target}"

    def _apply(self, request: ActionRequest) -> str:
        self._check_target(request)
        job = self.emulator.job
        kind = request.kind
        if kind in NO_OP_KINDS:
            return f"{kind} needs no change to the cluster"
        if kind == "restart_in_place":
            return job.restart()
        if kind == "emergency_checkpoint":
            pause = bool(request.parameters.get("pause", False))
            job.emergency_checkpoint(pause=pause)
            return f"job {job.config.name} checkpoints at step {job.step_number}" + (" and pauses" if pause else "")
        if kind in ("swap_spare", "exclude_node", "cordon_node"):
            return self._apply_node_action(request, self._node(request.target))
        rack = self._rack(request.target)
        if kind == "cap_power":
            return self._cap_power(rack, request.parameters)
        return self._isolate_rack(rack)

    def _apply_node_action(self, request: ActionRequest, node: int) -> str:
        job = self.emulator.job
        name = self.emulator.topology.node_names[node]
        if request.kind == "cordon_node":
            job.cordon(node)
            return f"node {name} cordoned"
        if node not in job.members:
            raise ActionRejected(f"node {name} is not in job {job.config.name}; its members are the targets of {request.kind}")
        if request.kind == "exclude_node":
            job.exclude(node)
            return f"job {job.config.name} restarts without node {name} on {len(job.members)} nodes"
        if request.parameters.get("at_checkpoint"):
            job.swap_at_checkpoint(node)
            return f"node {name} will be swapped for a spare after the next checkpoint"
        spare_name = request.parameters.get("spare")
        spare = None if spare_name is None else self._node(str(spare_name))
        chosen = job.swap(node, spare)
        if chosen is None:
            raise ValueError(f"no free hot spare for node {name}; spares left: {len(job.spares)}, all cordoned")
        return f"node {name} swapped for spare {self.emulator.topology.node_names[chosen]}"

    def _cap_power(self, rack: int, parameters: dict[str, Any]) -> str:
        topology = self.emulator.topology
        design_watts = topology.nodes_per_rack * (topology.gpus_per_node * GPU_MAX_WATTS + HOST_BUSY_WATTS)
        if "power_limit_watts" in parameters:
            limit = float(parameters["power_limit_watts"])
        elif "power_cap_fraction" in parameters:
            limit = float(parameters["power_cap_fraction"]) * design_watts
        else:
            raise ActionRejected("cap_power needs parameter power_limit_watts or power_cap_fraction")
        if limit <= 0:
            raise ActionRejected(f"cap_power limit must be positive, got {limit} W")
        self.emulator.rack_power_cap_watts[rack] = limit
        return f"rack {topology.rack_names[rack]} capped at {limit:.0f} W ({limit / design_watts:.0%} of design)"

    def _isolate_rack(self, rack: int) -> str:
        emulator = self.emulator
        job = emulator.job
        nodes = emulator.topology.nodes_of_rack(rack)
        for node in nodes:
            job.cordon(node)
        moved = []
        for node in [member for member in job.members if member in nodes]:
            if job.swap(node) is None:
                if len(job.members) == 1:
                    raise ValueError(f"cannot isolate rack {emulator.topology.rack_names[rack]}: it contains the job's last node")
                job.exclude(node)
            moved.append(emulator.topology.node_names[node])
        emulator.isolated_nodes[nodes] = True
        return f"rack {emulator.topology.rack_names[rack]} isolated and powered off; job moved off {len(moved)} node(s)"

    def _check_target(self, request: ActionRequest) -> None:
        job_name = self.emulator.job_name
        if request.job is not None and request.job != job_name:
            raise ActionRejected(f"unknown job {request.job!r}; the emulated job is {job_name!r}")
        if request.kind in ("restart_in_place", "emergency_checkpoint") and request.target != job_name:
            raise ActionRejected(f"{request.kind} targets a job; unknown job {request.target!r}, the emulated job is {job_name!r}")

    def _node(self, name: str) -> int:
        try:
            return self.emulator.topology.node_index(name)
        except ValueError as exc:
            raise ActionRejected(str(exc)) from None

    def _rack(self, name: str) -> int:
        try:
            return self.emulator.topology.rack_index(name)
        except ValueError as exc:
            raise ActionRejected(str(exc)) from None


def result_record(result: ActionResult) -> Record:
    """Return the ``actions.results`` message of one result, keyed by action id."""
    return Record(ACTION_RESULTS, result.action_id, result.model_dump(mode="json"))
