"""Tests of the Alertmanager client's request bodies and of the binary lookup, without Alertmanager."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.alerts.alertmanager import postable_alert
from tests.alerts.conftest import make_alert, make_resolved
from tests.alerts.test_alertmanager import find_binary


def test_postable_alert_firing() -> None:
    document = postable_alert(make_alert())
    assert set(document) == {"labels", "annotations", "startsAt", "generatorURL"}
    assert document["startsAt"] == "2026-01-01T12:00:00Z"


def test_postable_alert_resolved_has_end() -> None:
    document = postable_alert(make_resolved(make_alert()))
    assert document["endsAt"] == "2026-01-01T12:05:00Z"


def test_postable_alert_omits_empty_generator() -> None:
    assert "generatorURL" not in postable_alert(make_alert(generator_url=""))


@pytest.mark.parametrize(("required", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)], ids=["required", "optional"])
def test_find_binary_missing(required: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("QIANLIYAN_ALERTMANAGER_BIN", raising=False)
    monkeypatch.setenv("QIANLIYAN_REQUIRE_SERVICES", required)
    with pytest.raises(outcome, match="prometheus-alertmanager"):
        find_binary()
