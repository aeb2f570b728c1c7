"""Tests that run the examples of docs/alerts.md against the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.alerts.models import PlainMessage, WebhookMessage, fingerprint
from pipeline.alerts.signature import sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def code_blocks(language: str) -> list[str]:
    """Return the fenced code blocks of one language in docs/alerts.md."""
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_docs_v4_example_parses() -> None:
    message = WebhookMessage.model_validate_json(code_blocks("json")[0])
    assert message.version == "4"
    assert message.alerts[0].fingerprint == fingerprint(message.alerts[0].labels)


def test_docs_plain_example_parses() -> None:
    message = PlainMessage.model_validate_json(code_blocks("json")[1])
    assert message.alerts[0].fingerprint == fingerprint(message.alerts[0].labels)


@pytest.mark.parametrize(("body", "valid"), [(b'{"a":1}', True), (b'{"a":2}', False)], ids=["same-body", "other-body"])
def test_docs_verify_example(body: bytes, valid: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict[str, Any] = {}
    exec(code_blocks("python")[0], namespace)
    now = 1_767_268_800
    monkeypatch.setattr(namespace["time"], "time", lambda: now + 1)
    signature = sign(b"s3cret", now, b'{"a":1}')
    assert namespace["verify"](b"s3cret", body, str(now), signature) is valid
