"""Tests of the webhook notifier against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
from typing import Any

import pytest
from aiohttp import web

from pipeline.alerts.message import render_body
from pipeline.alerts.receiver import RECEIVED, create_app
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.signature import NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from pipeline.alerts.webhook import WebhookNotifier, backoff_delay, redact_url
from tests.alerts.conftest import free_port, make_alert, serve

SECRET = "s3cret"


async def no_sleep(seconds: float) -> None:
    """Skip backoff waits, so retry tests take no time."""


def scripted_app(statuses: list[int], seen: list[dict[str, Any]], delay_seconds: float = 0.0) -> web.Application:
    """Return an app whose POST /hook responds with the statuses in order, then 200, recording each request."""

    async def handle(request: web.Request) -> web.Response:
        seen.append({"headers": dict(request.headers), "body": await request.read()})
        if delay_seconds:
            await asyncio.sleep(delay_seconds)
        status = statuses.pop(0) if statuses else 200
        return web.Response(status=status, text=f"status {status}")

    app = web.Application()
    app.router.add_post("/hook", handle)
    return app


def body() -> bytes:
    """Return a rendered one-alert Alertmanager body."""
    return render_body([make_alert()], format="alertmanager", receiver="ops")


def notifier_for(url: str, **options: Any) -> WebhookNotifier:
    """Return a notifier for ``url`` that does not wait between attempts and jitters reproducibly."""
    options.setdefault("sleep", no_sleep)
    options.setdefault("rng", random.Random(0))
    return WebhookNotifier(url, **options)


def test_notifier_delivers_to_receiver() -> None:
    async def scenario() -> tuple[tuple[bool, Exception | None], list[dict[str, Any]]]:
        app = create_app(secret=SECRET)
        async with serve(app) as server, notifier_for(str(server.make_url("/webhook")), secret=SECRET) as notifier:
            result = await notifier.send(body(), "incident-1:firing")
            return result, list(app[RECEIVED].messages)

    (retry, error), messages = asyncio.run(scenario())
    assert error is None
    assert retry is False
    assert len(messages) == 1
    assert messages[0]["notification_id"] == "incident-1:firing"
    assert messages[0]["payload"]["alerts"][0]["labels"]["alertname"] == "GpuXid"


def test_receiver_rejects_wrong_secret() -> None:
    async def scenario() -> tuple[tuple[bool, Any], int]:
        app = create_app(secret=SECRET)
        async with serve(app) as server, notifier_for(str(server.make_url("/webhook")), secret="other") as notifier:
            result = await notifier.send(body(), "incident-1:firing")
            return result, len(app[RECEIVED].messages)

    (retry, error), stored = asyncio.run(scenario())
    assert error is not None
    assert error.status == 401
    assert retry is False
    assert stored == 0


def test_notifier_signs_exact_body() -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with serve(scripted_app([], seen)) as server, notifier_for(str(server.make_url("/hook")), secret=SECRET, clock=lambda: 1_767_268_800.5) as notifier:
            await notifier.send(b'{"a":1}', "n-1")

    asyncio.run(scenario())
    headers = seen[0]["headers"]
    assert seen[0]["body"] == b'{"a":1}'
    assert headers[TIMESTAMP_HEADER] == "1767268800"
    expected = hmac.new(SECRET.encode(), b'1767268800.{"a":1}', hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert headers[NOTIFICATION_ID_HEADER] == "n-1"
    assert headers["Content-Type"] == "application/json"


def test_notifier_unsigned_without_secret() -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with serve(scripted_app([], seen)) as server, notifier_for(str(server.make_url("/hook"))) as notifier:
            await notifier.send(body(), "n-1")

    asyncio.run(scenario())
    assert SIGNATURE_HEADER not in seen[0]["headers"]
    assert TIMESTAMP_HEADER not in seen[0]["headers"]


def test_notifier_retries_5xx_then_delivers() -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> tuple[bool, Any]:
        async with serve(scripted_app([500, 503], seen)) as server, notifier_for(str(server.make_url("/hook"))) as notifier:
            return await notifier.send(body(), "n-1")

    retry, error = asyncio.run(scenario())
    assert error is None
    assert retry is False
    assert len(seen) == 3
    assert seen[0]["body"] == seen[2]["body"]


@pytest.mark.parametrize("status", [400, 401, 404, 422, 429], ids=str)
def test_notifier_no_retry_on_4xx(status: int) -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> tuple[bool, Any]:
        async with serve(scripted_app([status], seen)) as server, notifier_for(str(server.make_url("/hook"))) as notifier:
            return await notifier.send(body(), "n-1")

    retry, error = asyncio.run(scenario())
    assert retry is False
    assert error.status == status
    assert f"HTTP {status}" in str(error)
    assert len(seen) == 1


def test_notifier_gives_up_after_max_attempts() -> None:
    seen: list[dict[str, Any]] = []
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def scenario() -> tuple[bool, Any]:
        async with serve(scripted_app([500] * 10, seen)) as server:
            url = str(server.make_url("/hook"))
            async with notifier_for(url, max_attempts=4, sleep=record_sleep, retry_initial_delay_seconds=1.0, max_retry_delay_seconds=3.0) as notifier:
                return await notifier.send(body(), "n-1")

    retry, error = asyncio.run(scenario())
    assert retry is True
    assert error.status == 500
    assert "status 500" in str(error)
    assert len(seen) == 4
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0
    assert 1.5 <= sleeps[2] <= 3.0


def test_notifier_retries_timeout() -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> tuple[bool, Any]:
        async with serve(scripted_app([], seen, delay_seconds=0.5)) as server, notifier_for(str(server.make_url("/hook")), timeout_ms=100, max_attempts=2) as notifier:
            return await notifier.send(body(), "n-1")

    retry, error = asyncio.run(scenario())
    assert retry is True
    assert error.status is None
    assert "timed out after 100 ms" in str(error)
    assert len(seen) == 2


def test_notifier_retries_connection_refused() -> None:
    async def scenario() -> tuple[bool, Any]:
        async with notifier_for(f"http://127.0.0.1:{free_port()}/hook/token", max_attempts=2) as notifier:
            result = await notifier.send(body(), "n-1")
            assert notifier.stats.notification_requests_total == 2
            return result

    retry, error = asyncio.run(scenario())
    assert retry is True
    assert "/hook/token" not in str(error)


def test_notifier_logs_redacted_url(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, Any]] = []
    caplog.set_level(logging.DEBUG, logger="pipeline.alerts.webhook")

    async def scenario() -> str:
        async with serve(scripted_app([500] * 3, seen)) as server:
            url = str(server.make_url("/hook")) + "?token=T0KEN"
            async with notifier_for(url, max_attempts=3) as notifier:
                retry, error = await notifier.send(body(), "n-1")
            return url + str(error)

    secret_text = asyncio.run(scenario())
    assert "T0KEN" in secret_text
    assert "T0KEN" not in caplog.text
    assert "/hook" not in caplog.text
    assert "http://127.0.0.1:" in caplog.text


def test_notifier_logs_repeated_error_once(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, Any]] = []
    caplog.set_level(logging.WARNING, logger="pipeline.alerts.webhook")

    async def scenario() -> None:
        async with serve(scripted_app([500] * 5, seen)) as server, notifier_for(str(server.make_url("/hook")), max_attempts=5) as notifier:
            await notifier.send(body(), "n-1")

    asyncio.run(scenario())
    retry_warnings = [record for record in caplog.records if "retrying" in record.getMessage()]
    assert len(retry_warnings) == 1


def test_notifier_stats_count_attempts() -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> WebhookNotifier:
        async with serve(scripted_app([500], seen)) as server, notifier_for(str(server.make_url("/hook"))) as notifier:
            await notifier.send(body(), "n-1")
            return notifier

    stats = asyncio.run(scenario()).stats
    assert stats.notification_requests_total == 2
    assert stats.notification_requests_failed_total == 1
    assert stats.notifications_delivered_total == 1
    assert stats.notifications_failed_total == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hooks.example.com/services/T000/B000/XXXX", "https://hooks.example.com/..."),
        ("http://user:pass@127.0.0.1:9095/webhook?token=abc", "http://127.0.0.1:9095/..."),
        ("https://[::1]:8443/a#frag", "https://[::1]:8443/..."),
        ("http://localhost", "http://localhost/..."),
        ("not a url", "?://?/..."),
    ],
    ids=["path-token", "credentials-query", "ipv6", "no-path", "garbage"],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.25, 0.5), (2, 0.5, 1.0), (3, 1.0, 2.0), (10, 2.5, 5.0)],
    ids=["first", "second", "third", "capped"],
)
def test_backoff_delay_range(attempt: int, low: float, high: float) -> None:
    rng = random.Random(1)
    delays = [backoff_delay(attempt, 0.5, 5.0, rng) for _ in range(200)]
    assert min(delays) >= low
    assert max(delays) <= high
    assert len(set(delays)) > 1


def test_from_settings_requires_url() -> None:
    with pytest.raises(ValueError, match="webhook_url is not set"):
        WebhookNotifier.from_settings(AlertSettings())


def test_from_settings_copies_options() -> None:
    settings = AlertSettings(webhook_url="http://127.0.0.1:9095/webhook", webhook_secret=SECRET, timeout_ms=500, max_attempts=2)  # type: ignore[arg-type]
    notifier = WebhookNotifier.from_settings(settings)
    assert notifier.redacted_url == "http://127.0.0.1:9095/..."
    assert notifier.timeout_ms == 500
    assert notifier.max_attempts == 2
