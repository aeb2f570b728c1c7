"""Action requests that the policy sends on ``actions`` and the results the controller returns."""

from __future__ import annotations

import hashlib
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ActionKind = Literal[
    "warn",
    "restart_in_place",
    "swap_spare",
    "exclude_node",
    "cordon_node",
    "cap_power",
    "emergency_checkpoint",
    "isolate_rack",
    "page",
]
ActionStatus = Literal["ok", "rejected", "failed"]
ParameterValue = str | int | float | bool | None

NODE_REMOVAL_KINDS: Final[frozenset[str]] = frozenset({"swap_spare", "exclude_node", "cordon_node"})
"""Kinds that take a node out of service; the cordon guards count them."""


class ActionRequest(BaseModel):
    """One action for the controller.

    Attributes:
        action_id: Idempotency key: a hash of incident id, kind, target and attempt, so the
            same decision on a replay has the same id and the guards drop it.
        kind: What to do.
        target: Node, rack or job the action applies to (the incident's entity for
            ``warn`` and ``page``).
        job: Job affected, where there is one.
        incident_id: Incident that caused the action.
        fault_class: Fault class of that incident.
        attempt: Index of the policy tier that chose the action, so a higher tier for the
            same incident gets new ids.
        parameters: Extra arguments, for example the spare node of ``swap_spare``.
        issued_at: Event time of the decision.
        dry_run: True when the controller must only log the action.
        reason: One line for people: why this action.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: str
    kind: ActionKind
    target: str
    job: str | None = None
    incident_id: str
    fault_class: str
    attempt: int = Field(default=0, ge=0)
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    issued_at: AwareDatetime
    dry_run: bool = False
    reason: str = Field(default="", max_length=1024)


class ActionResult(BaseModel):
    """Outcome of one action, as the controller reports it on ``actions.results``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: str
    status: ActionStatus
    detail: str = Field(default="", max_length=1024)
    applied_at: AwareDatetime


def action_id(incident_id: str, kind: str, target: str, attempt: int) -> str:
    """Return the idempotency key of an action."""
    digest = hashlib.sha256(f"{incident_id}|{kind}|{target}|{attempt}".encode()).hexdigest()
    return f"act-{digest[:16]}"
