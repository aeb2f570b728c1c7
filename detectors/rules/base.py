"""Shared parts of the absolute rules: the rule contract, its state and the counter arithmetic.

A rule reads one validated message and the state it left for that message's key (a node
or a rack), updates the state in place and returns the anomalies it found. The state is a
pydantic model, so the worker can keep it in a Faust table as JSON and a restarted worker
resumes where the last one stopped:

    state = table.get(key) or rule.new_state()
    anomalies = rule.check(message, state)
    table[key] = state

Rules report a condition when it starts (edge-triggered): a GPU that keeps its double-bit
error count gives one anomaly, not one per second. When the condition clears, the rule
re-arms, and a later recurrence is reported again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.anomaly import Anomaly, EntityKind, EvidenceValue, Severity
from pipeline.schemas import Envelope


class RuleState(BaseModel):
    """State of one rule for one key; JSON-serialisable, changed in place by ``check``.

    Attributes:
        active: Conditions currently raised, named ``<condition>:<place>``, so that each
            is reported once when it starts.
        clearing: Consecutive checks without the condition, for raised conditions that
            have not re-armed yet.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    active: set[str] = Field(default_factory=set)
    clearing: dict[str, int] = Field(default_factory=dict)


class CounterSample(BaseModel):
    """A cumulative counter's value and its event time."""

    model_config = ConfigDict(extra="forbid")

    time: datetime
    value: int


MessageT = TypeVar("MessageT", bound=Envelope)
StateT = TypeVar("StateT", bound=RuleState)


class Rule(ABC, Generic[MessageT, StateT]):
    """An absolute rule over one message type.

    Subclasses set ``name`` (the detector name in anomalies), ``message_type`` and
    ``state_type``, take their limits as keyword-only arguments with defaults from
    ``detectors.thresholds``, and store each one unchanged under its own name.
    """

    name: ClassVar[str]
    message_type: ClassVar[type[Envelope]]
    state_type: ClassVar[type[RuleState]] = RuleState

    def new_state(self) -> StateT:
        """Return the state for a key seen for the first time."""
        return self.state_type()  # type: ignore[return-value]

    @abstractmethod
    def check(self, message: MessageT, state: StateT) -> list[Anomaly]:
        """Apply the rule to one message, update ``state`` in place and return new anomalies."""


# Checks a raised condition must stay clear before it re-arms, so that a signal hovering at
# its threshold (a GPU at its slowdown temperature) is reported once, not on every crossing.
REARM_AFTER_CLEAR_CHECKS = 10


def rising(state: RuleState, condition: str, active: bool, rearm_after: int = REARM_AFTER_CLEAR_CHECKS) -> bool:
    """Record whether ``condition`` is true now and return True only when it has just started.

    A raised condition re-arms after ``rearm_after`` checks in a row without it.
    """
    if not active:
        if condition in state.active:
            cleared = state.clearing.get(condition, 0) + 1
            if cleared >= rearm_after:
                state.active.discard(condition)
                state.clearing.pop(condition, None)
            else:
                state.clearing[condition] = cleared
        return False
    state.clearing.pop(condition, None)
    if condition in state.active:
        return False
    state.active.add(condition)
    return True


def counter_increase(previous: CounterSample | None, value: int) -> int | None:
    """Return how much a cumulative counter grew since ``previous``.

    A counter that went down was reset (driver reload, GPU reset), so the whole new value
    counts as the increase. Returns None when there is no previous sample.
    """
    if previous is None:
        return None
    if value < previous.value:
        return value
    return value - previous.value


def gpu_anomaly(
    rule: Rule[Any, Any],
    message: Any,
    gpu: int,
    *,
    score: float,
    threshold: float | None,
    severity: Severity,
    evidence: dict[str, EvidenceValue],
    fault_class: str | None,
    text: str,
) -> Anomaly:
    """Build an anomaly about one GPU of the node in ``message``."""
    return Anomaly(
        time=message.time,
        cluster=message.cluster,
        entity=message.node,
        entity_kind="gpu",
        gpu=gpu,
        rack=message.rack,
        detector=rule.name,
        score=score,
        threshold=threshold,
        severity=severity,
        evidence=evidence,
        fault_class=fault_class,
        message=text,
    )


def place_anomaly(
    rule: Rule[Any, Any],
    message: Any,
    *,
    entity: str,
    entity_kind: EntityKind,
    rack: str | None,
    score: float,
    threshold: float | None,
    severity: Severity,
    evidence: dict[str, EvidenceValue],
    fault_class: str | None,
    text: str,
) -> Anomaly:
    """Build an anomaly about a node, rack or job named in ``message``."""
    return Anomaly(
        time=message.time,
        cluster=message.cluster,
        entity=entity,
        entity_kind=entity_kind,
        rack=rack,
        detector=rule.name,
        score=score,
        threshold=threshold,
        severity=severity,
        evidence=evidence,
        fault_class=fault_class,
        message=text,
    )
