"""Post action annotations to a fake Grafana served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.annotations import GrafanaAnnotator, GrafanaSettings, annotation_body
from pipeline.policy.models import ActionRequest, ActionResult

ISSUED = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
ACTION = ActionRequest(
    action_id="act-1", kind="cap_power", target="r000-n01", incident_id="inc-1", fault_class="gpu_thermal",
    issued_at=ISSUED, reason="GPU too hot",
)
RESULT = ActionResult(action_id="act-1", status="ok", detail="capped at 500 W", applied_at=ISSUED + timedelta(seconds=3))


async def run_against_grafana(status: int, calls: list[tuple[ActionRequest, ActionResult | None]], token: str | None = "secret-token",
                              delay_seconds: float = 0.0, timeout_ms: int = 2_000) -> tuple[list[bool], list[dict[str, Any]], GrafanaAnnotator]:
    """Post ``calls`` to a fake Grafana that responds with ``status``. Return results, received requests and the annotator."""
    received: list[dict[str, Any]] = []

    async def annotations(request: web.Request) -> web.Response:
        received.append({"authorization": request.headers.get("Authorization"), "body": await request.json()})
        await asyncio.sleep(delay_seconds)
        return web.json_response({"id": len(received), "message": "Annotation added"}, status=status)

    app = web.Application()
    app.router.add_post("/api/annotations", annotations)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    settings = GrafanaSettings(url=f"http://127.0.0.1:{server.port}/", token=token, timeout_ms=timeout_ms)
    annotator = GrafanaAnnotator(settings)
    try:
        results = [await annotator.annotate(action, result) for action, result in calls]
    finally:
        await annotator.close()
        await server.close()
    return results, received, annotator


def test_body_of_issued_action() -> None:
    body = annotation_body(ACTION)
    assert body["time"] == 1767268800000
    assert body["tags"] == ["qianliyan", "cap_power", "issued"]
    assert body["text"] == "cap_power on r000-n01 issued: GPU too hot (incident inc-1, action act-1)"


def test_body_of_result() -> None:
    body = annotation_body(ACTION, RESULT)
    assert body["time"] == 1767268803000
    assert body["tags"] == ["qianliyan", "cap_power", "ok"]
    assert "capped at 500 W" in body["text"]


def test_body_of_dry_run() -> None:
    body = annotation_body(ACTION.model_copy(update={"dry_run": True}))
    assert body["tags"][2] == "dry_run"


def test_annotator_posts_with_bearer() -> None:
    results, received, annotator = asyncio.run(run_against_grafana(200, [(ACTION, None), (ACTION, RESULT)]))
    assert results == [True, True]
    assert [request["body"]["tags"][2] for request in received] == ["issued", "ok"]
    assert received[0]["authorization"] == "Bearer secret-token"
    assert annotator.posted == 2


def test_annotator_without_token() -> None:
    _, received, _ = asyncio.run(run_against_grafana(200, [(ACTION, None)], token=None))
    assert received[0]["authorization"] is None


def test_annotator_logs_http_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.annotations"):
        results, _, annotator = asyncio.run(run_against_grafana(401, [(ACTION, None)]))
    assert results == [False]
    assert annotator.failed == 1
    assert "HTTP 401" in caplog.text
    assert "secret-token" not in caplog.text
    assert "/api/annotations" not in caplog.text


def test_annotator_times_out(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.annotations"):
        results, _, _ = asyncio.run(run_against_grafana(200, [(ACTION, None)], delay_seconds=1.0, timeout_ms=200))
    assert results == [False]
    assert "timed out" in caplog.text


def test_annotator_survives_refused_connection() -> None:
    async def scenario() -> tuple[bool, int]:
        annotator = GrafanaAnnotator(GrafanaSettings(url="http://127.0.0.1:9", timeout_ms=500))
        accepted = await annotator.annotate(ACTION)
        await annotator.close()
        return accepted, annotator.failed

    assert asyncio.run(scenario()) == (False, 1)


def test_schedule_returns_before_post() -> None:
    async def scenario() -> tuple[int, int]:
        received: list[int] = []

        async def annotations(request: web.Request) -> web.Response:
            received.append(1)
            return web.json_response({"id": 1})

        app = web.Application()
        app.router.add_post("/api/annotations", annotations)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        annotator = GrafanaAnnotator(GrafanaSettings(url=f"http://127.0.0.1:{server.port}"))
        annotator.schedule(ACTION)
        before = len(received)
        await annotator.close()
        await server.close()
        return before, len(received)

    assert asyncio.run(scenario()) == (0, 1)


def test_disabled_annotator_posts_nothing() -> None:
    annotator = GrafanaAnnotator(GrafanaSettings())
    assert annotator.enabled is False
    assert asyncio.run(annotator.annotate(ACTION)) is False


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:3000"], ids=["scheme", "no-scheme"])
def test_settings_reject_bad_url(url: str) -> None:
    with pytest.raises(ValueError, match="grafana url must be an http or https URL"):
        GrafanaSettings(url=url)
