"""The policy file: its pydantic model and the YAML loader with errors that name the rule and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.anomaly import Severity
from pipeline.errors import QianliyanError
from pipeline.incidents.models import Confidence
from pipeline.policy.models import ActionKind, ParameterValue

DEFAULT_POLICY_PATH: Final = Path(__file__).with_name("default_policy.yaml")
CONFIDENCE_RANK: Final[dict[str, int]] = {"low": 0, "medium": 1, "high": 2}


class PolicyError(QianliyanError, ValueError):
    """A policy file that cannot be read or does not match the policy format."""


class ActionSpec(BaseModel):
    """One action of a tier: its kind and fixed parameters, such as a power cap in watts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActionKind
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)


class Tier(BaseModel):
    """Actions for incidents that reach a confidence, a severity and a repeat-offender state.

    A rule lists its tiers from the strongest condition to the weakest; the first tier whose
    conditions the incident meets decides. ``repeat_offender`` and ``has_suspects`` (a job
    hang that names its bad rank) match either state when None.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_confidence: Confidence = "low"
    min_severity: Severity = "info"
    repeat_offender: bool | None = None
    has_suspects: bool | None = None
    actions: tuple[ActionSpec, ...] = Field(min_length=1)

    @field_validator("actions", mode="before")
    @classmethod
    def _expand_kinds(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"kind": item} if isinstance(item, str) else item for item in value]
        return value


class Guards(BaseModel):
    """Limits on the actions the policy issues, whatever its rules choose.

    Attributes:
        max_node_removals_per_hour: Nodes that cordon, exclude or spare-swap actions may take
            out of service within one hour of event time.
        max_removed_share: Largest share of the cluster's nodes out of service at once,
            rounded down to whole nodes.
        min_removable_nodes: Nodes that may be out of service whatever the share, so that a
            small cluster can still replace one node.
        cooldown_seconds: Time after an action before the same kind may act on the same
            target again.
        idempotency_retention_seconds: How long issued action ids are remembered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_node_removals_per_hour: int = Field(default=4, ge=0)
    max_removed_share: float = Field(default=0.05, ge=0, le=1)
    min_removable_nodes: int = Field(default=1, ge=0)
    cooldown_seconds: float = Field(default=600.0, ge=0)
    idempotency_retention_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)


class PolicyConfig(BaseModel):
    """The whole policy file.

    Attributes:
        version: Format version; only 1 exists.
        dry_run: Mark every action as a dry run, so the controller only logs it.
        guards: Limits on actions.
        no_spare_fallback: Actions that replace ``swap_spare`` when the spare pool is empty.
        rules: Tiers by fault class.
        default: Tiers for fault classes without a rule.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    dry_run: bool = False
    guards: Guards = Guards()
    no_spare_fallback: tuple[ActionSpec, ...] = (ActionSpec(kind="exclude_node"), ActionSpec(kind="restart_in_place"))
    rules: dict[str, tuple[Tier, ...]] = Field(default_factory=dict)
    default: tuple[Tier, ...] = ()

    @field_validator("no_spare_fallback", mode="before")
    @classmethod
    def _expand_kinds(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"kind": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("no_spare_fallback")
    @classmethod
    def _no_swap_in_fallback(cls, value: tuple[ActionSpec, ...]) -> tuple[ActionSpec, ...]:
        if any(spec.kind == "swap_spare" for spec in value):
            raise ValueError("swap_spare cannot be its own fallback; use exclude_node and restart_in_place")
        return value


def parse_policy(data: Any, source: str = "<policy>") -> PolicyConfig:
    """Validate a policy read from YAML.

    Raises:
        PolicyError: the data does not match the format; the message names each wrong key
            with its path, for example ``rules.xid_79[0].actions[1].kind``.
    """
    if not isinstance(data, dict):
        raise PolicyError(f"policy {source} must be a YAML mapping with 'rules', got {type(data).__name__}")
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_path(error['loc'])}: {error['msg']} (got {error.get('input')!r})" for error in exc.errors())
        raise PolicyError(f"invalid policy {source}: {problems}") from exc


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> PolicyConfig:
    """Read and validate a policy YAML file.

    Raises:
        PolicyError: the file is missing, is not valid YAML, or does not match the format.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}; check the path") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML in policy file {path}: {exc}") from exc
    return parse_policy(data, str(path))


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
