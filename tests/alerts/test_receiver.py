"""Tests of the webhook receiver app, through real HTTP requests on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import typer
from typer.testing import CliRunner

from pipeline.alerts.command import receiver
from pipeline.alerts.message import render_body
from pipeline.alerts.receiver import create_app, parse_payload
from pipeline.alerts.signature import NOTIFICATION_ID_HEADER, signed_headers
from tests.alerts.conftest import make_alert, serve

SECRET = "s3cret"
NOW = 1_767_268_800


async def post(app_options: dict[str, Any], requests: list[tuple[bytes, dict[str, str]]]) -> tuple[list[int], list[dict[str, Any]]]:
    """Post each body with its headers to a fresh receiver; return the statuses and GET /messages."""
    statuses = []
    async with serve(create_app(**app_options)) as server, aiohttp.ClientSession() as session:
        for body, headers in requests:
            async with session.post(server.make_url("/webhook"), data=body, headers=headers) as response:
                statuses.append(response.status)
        async with session.get(server.make_url("/messages")) as response:
            messages = await response.json()
    return statuses, messages


def alertmanager_body() -> bytes:
    """Return a rendered one-alert Alertmanager body."""
    return render_body([make_alert()], format="alertmanager", receiver="ops")


def test_receiver_accepts_unsigned_without_secret() -> None:
    statuses, messages = asyncio.run(post({}, [(alertmanager_body(), {})]))
    assert statuses == [200]
    assert messages[0]["format"] == "alertmanager"
    assert messages[0]["notification_id"] is None


def test_receiver_accepts_plain_format() -> None:
    body = render_body([make_alert()], format="plain", receiver="ops")
    statuses, messages = asyncio.run(post({}, [(body, {})]))
    assert statuses == [200]
    assert messages[0]["format"] == "plain"


def test_receiver_accepts_valid_signature() -> None:
    body = alertmanager_body()
    headers = signed_headers(SECRET.encode(), NOW, body)
    statuses, messages = asyncio.run(post({"secret": SECRET, "clock": lambda: NOW}, [(body, headers)]))
    assert statuses == [200]
    assert len(messages) == 1


@pytest.mark.parametrize(
    ("headers_at", "clock_offset"),
    [(None, 0), (NOW, 301), ("tampered", 0)],
    ids=["unsigned", "stale", "tampered-body"],
)
def test_receiver_rejects_bad_signature(headers_at: object, clock_offset: int) -> None:
    body = alertmanager_body()
    headers: dict[str, str] = {}
    if headers_at == "tampered":
        headers = signed_headers(SECRET.encode(), NOW, body)
        body = body.replace(b"GpuXid", b"GpuXiD")
    elif headers_at is not None:
        headers = signed_headers(SECRET.encode(), NOW, body)
    statuses, messages = asyncio.run(post({"secret": SECRET, "clock": lambda: NOW + clock_offset}, [(body, headers)]))
    assert statuses == [401]
    assert messages == []


def test_receiver_stores_duplicate_id_once() -> None:
    body = alertmanager_body()
    headers = {NOTIFICATION_ID_HEADER: "incident-1:firing"}
    statuses, messages = asyncio.run(post({}, [(body, headers), (body, headers)]))
    assert statuses == [200, 200]
    assert len(messages) == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"version": "3"}', b'{"version": "4", "alerts": "none"}'],
    ids=["not-json", "list", "old-version", "bad-alerts"],
)
def test_receiver_rejects_invalid_payload(body: bytes) -> None:
    statuses, messages = asyncio.run(post({}, [(body, {})]))
    assert statuses == [400]
    assert messages == []


def test_receiver_appends_to_store(tmp_path: Path) -> None:
    store = tmp_path / "received.jsonl"
    asyncio.run(post({"store_path": store}, [(alertmanager_body(), {NOTIFICATION_ID_HEADER: "a"}), (alertmanager_body(), {NOTIFICATION_ID_HEADER: "b"})]))
    lines = store.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["notification_id"] == "b"


def test_receiver_health() -> None:
    async def scenario() -> int:
        async with serve(create_app()) as server, aiohttp.ClientSession() as session:
            async with session.get(server.make_url("/-/healthy")) as response:
                return response.status

    assert asyncio.run(scenario()) == 200


def test_parse_payload_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown payload"):
        parse_payload({"hello": "world"})


def test_receiver_command_help() -> None:
    app = typer.Typer()
    app.command()(receiver)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["receiver", "--help"], env={"TERMINAL_WIDTH": "240", "COLUMNS": "240"})
    assert result.exit_code == 0
    assert "--secret" in result.output
    assert "QIANLIYAN_ALERTS__WEBHOOK_SECRET" in result.output


def test_run_receiver_serves_until_cancelled() -> None:
    from pipeline.alerts.receiver import run_receiver
    from tests.alerts.conftest import free_port

    port = free_port()

    async def scenario() -> int:
        task = asyncio.create_task(run_receiver("127.0.0.1", port, None))
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(50):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/-/healthy") as response:
                            return response.status
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
            return 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert asyncio.run(scenario()) == 200
