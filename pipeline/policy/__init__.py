"""Fault-tolerance policy: tiered actions by fault class and confidence, behind guards."""

from pipeline.policy.config import DEFAULT_POLICY_PATH, PolicyConfig, PolicyError, load_policy, parse_policy
from pipeline.policy.models import ActionRequest, ActionResult
from pipeline.policy.policy import Policy

__all__ = ["DEFAULT_POLICY_PATH", "ActionRequest", "ActionResult", "Policy", "PolicyConfig", "PolicyError", "load_policy", "parse_policy"]
