"""Policy file loading: the default file, and errors that name the rule and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.incidents import CorrelatorSettings
from pipeline.policy import PolicyError, load_policy, parse_policy


def test_default_policy_covers_classes() -> None:
    config = load_policy()

    assert set(config.rules) == {rule.name for rule in CorrelatorSettings().classes}
    assert config.dry_run is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": {"xid_79": [{"actions": ["cordon"]}]}}, r"rules\.xid_79\[0\]\.actions\[0\]\.kind"),
        ({"rules": {"xid_79": [{"min_confidence": "sure", "actions": ["warn"]}]}}, r"rules\.xid_79\[0\]\.min_confidence.*'sure'"),
        ({"rules": {"xid_79": [{"actions": []}]}}, r"rules\.xid_79\[0\]\.actions"),
        ({"guards": {"cooldown": 5}}, r"guards\.cooldown: Extra inputs"),
        ({"guards": {"max_removed_share": 2}}, r"guards\.max_removed_share"),
        ({"no_spare_fallback": ["swap_spare"]}, r"no_spare_fallback.*cannot be its own fallback"),
        ({"version": 2}, r"version"),
        (["warn"], r"must be a YAML mapping"),
    ],
    ids=["action_kind", "confidence", "empty_actions", "unknown_guard", "share_range", "fallback_swap", "version", "not_mapping"],
)
def test_invalid_policy_names_key(data: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(data, "test.yaml")


def test_invalid_yaml_syntax_rejected(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules: [unclosed\n", encoding="utf-8")

    with pytest.raises(PolicyError, match="invalid YAML in policy file"):
        load_policy(path)


def test_missing_policy_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "absent.yaml")


def test_action_shorthand_expands() -> None:
    config = parse_policy({"rules": {"x": [{"actions": ["warn", {"kind": "cap_power", "parameters": {"power_cap_fraction": 0.5}}]}]}})

    actions = config.rules["x"][0].actions
    assert [action.kind for action in actions] == ["warn", "cap_power"]
    assert actions[1].parameters == {"power_cap_fraction": 0.5}
