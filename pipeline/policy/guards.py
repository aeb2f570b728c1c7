"""Guards between the policy's decision and the ``actions`` topic.

They drop repeats by idempotency key and by a cooldown per kind and target. A node removal
beyond a rate or a share of the cluster becomes a page. ``swap_spare`` gets a free hot
spare, or the fallback actions when the pool is empty. Guard state is a pydantic model that
dumps to a JSON-ready dict. Time is the event time of the decision.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pipeline.incidents.cluster_map import ClusterMap
from pipeline.policy.config import Guards
from pipeline.policy.models import NODE_REMOVAL_KINDS, ActionRequest, ActionResult

logger = logging.getLogger(__name__)

REMOVAL_WINDOW = timedelta(hours=1)

Fallback = Callable[[ActionRequest], list[ActionRequest]]


class Removal(BaseModel):
    """One node taken out of service, with the action that took it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str
    action_id: str
    time: AwareDatetime


class GuardState(BaseModel):
    """What the guards remember.

    Attributes:
        issued: Event time of every issued action id within the retention.
        last_action: Event time of the latest action per ``kind|target``, for the cooldown.
        removals: Node removals of the last hour, for the rate limit.
        removed_nodes: Nodes out of service now, with the removing action's id.
        spares_in_use: Spare nodes handed out, with the ``swap_spare`` action's id.
    """

    model_config = ConfigDict(extra="forbid")

    issued: dict[str, AwareDatetime] = Field(default_factory=dict)
    last_action: dict[str, AwareDatetime] = Field(default_factory=dict)
    removals: list[Removal] = Field(default_factory=list)
    removed_nodes: dict[str, str] = Field(default_factory=dict)
    spares_in_use: dict[str, str] = Field(default_factory=dict)


class ActionGuard:
    """Admit, change or drop the actions that the policy rules choose.

    Args:
        guards: Limits from the policy file.
        cluster_map: Node count for the share limit and the spare pool.
        page: Builds the page that replaces a blocked node removal.
    """

    def __init__(self, guards: Guards, cluster_map: ClusterMap, page: Callable[[ActionRequest, str], ActionRequest]) -> None:
        self.guards = guards
        self.cluster_map = cluster_map
        self._page = page
        self.state = GuardState()

    def admit(self, request: ActionRequest, now: datetime, fallback: Fallback) -> list[ActionRequest]:
        """Return what goes out for one chosen action: itself, its replacements, or nothing."""
        self._prune(now)
        if request.action_id in self.state.issued:
            logger.info("action dropped as duplicate action_id=%s kind=%s target=%s", request.action_id, request.kind, request.target)
            return []

        cooldown_key = f"{request.kind}|{request.target}"
        last = self.state.last_action.get(cooldown_key)
        if last is not None and now - last < timedelta(seconds=self.guards.cooldown_seconds):
            logger.info(
                "action dropped in cooldown action_id=%s kind=%s target=%s last_action_at=%s",
                request.action_id,
                request.kind,
                request.target,
                last.isoformat(),
            )
            return []

        if request.kind == "swap_spare":
            spare = self._free_spare()
            if spare is None:
                logger.warning("spare pool empty, falling back action_id=%s target=%s", request.action_id, request.target)
                return [admitted for replacement in fallback(request) for admitted in self.admit(replacement, now, fallback)]
            request = request.model_copy(update={"parameters": {**request.parameters, "spare": spare}})

        if request.kind in NODE_REMOVAL_KINDS and request.target not in self.state.removed_nodes:
            blocked = self._removal_blocked(request.target)
            if blocked:
                logger.warning("node removal blocked action_id=%s kind=%s target=%s reason=%s", request.action_id, request.kind, request.target, blocked)
                return self.admit(self._page(request, blocked), now, fallback)

        self._record(request, now, cooldown_key)
        return [request]

    def record_result(self, result: ActionResult) -> None:
        """Release the node and the spare of an action that the controller rejected or could not apply."""
        if result.status == "ok":
            return
        for node, action in list(self.state.removed_nodes.items()):
            if action == result.action_id:
                del self.state.removed_nodes[node]
        for spare, action in list(self.state.spares_in_use.items()):
            if action == result.action_id:
                del self.state.spares_in_use[spare]

    def release_node(self, node: str) -> None:
        """Return a repaired node to service, and to the spare pool if it is a spare."""
        self.state.removed_nodes.pop(node, None)
        self.state.spares_in_use.pop(node, None)

    def _free_spare(self) -> str | None:
        for spare in self.cluster_map.spares:
            if spare not in self.state.spares_in_use and spare not in self.state.removed_nodes:
                return spare
        return None

    def _removal_blocked(self, node: str) -> str | None:
        recent = {removal.node for removal in self.state.removals}
        if node not in recent and len(recent) + 1 > self.guards.max_node_removals_per_hour:
            return f"max_node_removals_per_hour={self.guards.max_node_removals_per_hour} reached"

        limit = max(self.guards.min_removable_nodes, math.floor(self.guards.max_removed_share * self.cluster_map.node_count))
        if len(self.state.removed_nodes) + 1 > limit:
            return (
                f"max_removed_share={self.guards.max_removed_share} allows {limit} of {self.cluster_map.node_count} nodes "
                f"out of service and {len(self.state.removed_nodes)} are out"
            )
        return None

    def _record(self, request: ActionRequest, now: datetime, cooldown_key: str) -> None:
        self.state.issued[request.action_id] = now
        self.state.last_action[cooldown_key] = now
        if request.kind in NODE_REMOVAL_KINDS and request.target not in self.state.removed_nodes:
            self.state.removed_nodes[request.target] = request.action_id
            self.state.removals.append(Removal(node=request.target, action_id=request.action_id, time=now))
        spare = request.parameters.get("spare")
        if request.kind == "swap_spare" and isinstance(spare, str):
            self.state.spares_in_use[spare] = request.action_id

    def _prune(self, now: datetime) -> None:
        state = self.state
        retention = timedelta(seconds=self.guards.idempotency_retention_seconds)
        state.issued = {key: time for key, time in state.issued.items() if now - time < retention}
        cooldown = timedelta(seconds=self.guards.cooldown_seconds)
        state.last_action = {key: time for key, time in state.last_action.items() if now - time < cooldown}
        state.removals = [removal for removal in state.removals if now - removal.time < REMOVAL_WINDOW]
