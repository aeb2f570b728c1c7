"""The fault-tolerance policy: incident updates in, guarded action requests out."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from detectors.anomaly import SEVERITY_RANK
from pipeline.incidents.cluster_map import ClusterMap
from pipeline.incidents.models import Incident, IncidentUpdate
from pipeline.policy.config import CONFIDENCE_RANK, ActionSpec, PolicyConfig, Tier
from pipeline.policy.guards import ActionGuard, GuardState
from pipeline.policy.models import ActionRequest, ActionResult, action_id

logger = logging.getLogger(__name__)

_NODE_KINDS = frozenset({"swap_spare", "exclude_node", "cordon_node"})
_RACK_KINDS = frozenset({"cap_power", "isolate_rack"})


class Policy:
    """Map incidents to tiered actions and pass them through the guards.

    Only ``opened`` and ``updated`` incidents lead to actions; a resolved incident takes
    none, so a fault-free stream, which opens no incident, takes no action either.

    Args:
        config: The validated policy file.
        cluster_map: Jobs, node count and spare pool.
    """

    def __init__(self, config: PolicyConfig, cluster_map: ClusterMap) -> None:
        self.config = config
        self.cluster_map = cluster_map
        self.guard = ActionGuard(config.guards, cluster_map, self._page_instead)

    def decide(self, update: IncidentUpdate, now: datetime) -> list[ActionRequest]:
        """Return the actions for one incident update, after the guards.

        Args:
            update: An update from the correlator.
            now: Event time of the decision, normally the update's time.
        """
        if update.kind == "resolved":
            return []
        incident = update.incident
        tiers = self.config.rules.get(incident.fault_class, self.config.default)
        chosen = _first_match(tiers, incident)
        if chosen is None:
            return []
        attempt, tier = chosen

        issued: list[ActionRequest] = []
        for spec in tier.actions:
            for request in self._requests(spec, incident, attempt, now):
                issued.extend(self.guard.admit(request, now, self._fallback))
        for request in issued:
            logger.info(
                "action issued incident_id=%s action_id=%s kind=%s target=%s dry_run=%s",
                request.incident_id,
                request.action_id,
                request.kind,
                request.target,
                request.dry_run,
            )
        return issued

    def record_result(self, result: ActionResult) -> None:
        """Take the controller's result into account: a failed or rejected action frees its node and spare."""
        logger.info("action result action_id=%s status=%s detail=%s", result.action_id, result.status, result.detail)
        self.guard.record_result(result)

    def release_node(self, node: str) -> None:
        """Return a repaired node to service."""
        self.guard.release_node(node)

    def snapshot(self) -> dict[str, Any]:
        """Return the guard state as a JSON-ready dict."""
        return self.guard.state.model_dump(mode="json")

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Replace the guard state with one that :meth:`snapshot` returned."""
        self.guard.state = GuardState.model_validate(snapshot)

    def _requests(self, spec: ActionSpec, incident: Incident, attempt: int, now: datetime) -> list[ActionRequest]:
        targets = self._targets(spec.kind, incident)
        if not targets:
            logger.warning(
                "action skipped without target incident_id=%s kind=%s scope=%s entity=%s",
                incident.incident_id,
                spec.kind,
                incident.scope,
                incident.entity,
            )
        return [self._request(spec.kind, target, job, incident, attempt, now, dict(spec.parameters)) for target, job in targets]

    def _targets(self, kind: str, incident: Incident) -> list[tuple[str, str | None]]:
        node = incident.node or (incident.suspects[0] if incident.suspects else None)
        job = incident.jobs[0] if incident.jobs else None
        if kind in _NODE_KINDS:
            return [(node, job)] if node is not None else []
        if kind in _RACK_KINDS:
            return [(incident.rack, job)] if incident.rack is not None else []
        if kind in ("restart_in_place", "emergency_checkpoint"):
            return [(name, name) for name in incident.jobs]
        return [(incident.entity, job)]

    def _request(
        self, kind: str, target: str, job: str | None, incident: Incident, attempt: int, now: datetime, parameters: dict[str, Any]
    ) -> ActionRequest:
        if kind == "restart_in_place" and incident.node is not None:
            parameters.setdefault("node", incident.node)
        return ActionRequest(
            action_id=action_id(incident.incident_id, kind, target, attempt),
            kind=kind,  # type: ignore[arg-type]
            target=target,
            job=job,
            incident_id=incident.incident_id,
            fault_class=incident.fault_class,
            attempt=attempt,
            parameters=parameters,
            issued_at=now,
            dry_run=self.config.dry_run,
            reason=f"{incident.fault_class} on {incident.scope} {incident.entity}, confidence {incident.confidence}, severity {incident.severity}",
        )

    def _fallback(self, request: ActionRequest) -> list[ActionRequest]:
        replacements: list[ActionRequest] = []
        for spec in self.config.no_spare_fallback:
            target = request.target if spec.kind in _NODE_KINDS or spec.kind in ("warn", "page") else (request.job or request.target)
            replacement = request.model_copy(
                update={
                    "action_id": action_id(request.incident_id, spec.kind, target, request.attempt),
                    "kind": spec.kind,
                    "target": target,
                    "parameters": {**spec.parameters, **({"node": request.target} if spec.kind == "restart_in_place" else {})},
                    "reason": f"{request.reason}; no free spare for swap_spare",
                }
            )
            replacements.append(replacement)
        return replacements

    def _page_instead(self, request: ActionRequest, blocked: str) -> ActionRequest:
        return request.model_copy(
            update={
                "action_id": action_id(request.incident_id, "page", request.target, request.attempt),
                "kind": "page",
                "parameters": {"blocked_kind": request.kind, "blocked_reason": blocked},
                "reason": f"{request.kind} on {request.target} blocked by guard: {blocked}",
            }
        )


def _first_match(tiers: tuple[Tier, ...], incident: Incident) -> tuple[int, Tier] | None:
    for index, tier in enumerate(tiers):
        if CONFIDENCE_RANK[incident.confidence] < CONFIDENCE_RANK[tier.min_confidence]:
            continue
        if SEVERITY_RANK[incident.severity] < SEVERITY_RANK[tier.min_severity]:
            continue
        if tier.repeat_offender is not None and tier.repeat_offender != incident.repeat_offender:
            continue
        if tier.has_suspects is not None and tier.has_suspects != bool(incident.suspects):
            continue
        return index, tier
    return None
