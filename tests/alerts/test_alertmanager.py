"""Tests against a real Alertmanager (Debian package prometheus-alertmanager) on 127.0.0.1.

The alert client posts to Alertmanager's /api/v2/alerts and reads the alerts back, and
Alertmanager's own webhook notifier sends to the qianliyan receiver, which shows that the
receiver and the WebhookMessage model read genuine version 4 payloads.

Without the binary the tests skip, unless QIANLIYAN_REQUIRE_SERVICES=1 is set (as CI does):
then they fail, because a skip there would hide a broken install.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from pipeline.alerts.alertmanager import AlertmanagerClient, AlertmanagerError
from pipeline.alerts.models import WebhookMessage
from pipeline.alerts.receiver import RECEIVED, create_app
from tests.alerts.conftest import free_port, make_alert, make_resolved

pytestmark = pytest.mark.integration

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
MAX_ALERTS = 2

CONFIG = """\
route:
  receiver: qianliyan
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: qianliyan
    webhook_configs:
      - url: http://127.0.0.1:{receiver_port}/webhook
        send_resolved: true
        max_alerts: {max_alerts}
"""


@dataclass(frozen=True)
class RunningAlertmanager:
    """A started Alertmanager and the port its webhook sends to."""

    url: str
    receiver_port: int


def find_binary() -> str:
    """Return the Alertmanager binary, or skip (fail when services are required)."""
    candidates = [os.environ.get("QIANLIYAN_ALERTMANAGER_BIN", ""), *BINARY_NAMES]
    for name in candidates:
        path = shutil.which(name) if name else None
        if path:
            return path
    reason = "the Alertmanager binary is not installed (apt-get install prometheus-alertmanager)"
    if os.environ.get("QIANLIYAN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and QIANLIYAN_REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(reason)


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_seconds: float = 15.0) -> None:
    """Poll Alertmanager's /-/ready until it returns 200, failing with its log if it exits or times out."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Alertmanager exited with status {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"Alertmanager at {url} not ready after {timeout_seconds:.0f} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[RunningAlertmanager]:
    """Start Alertmanager with clustering off and a webhook to a free local port."""
    binary = find_binary()
    port, receiver_port = free_port(), free_port()
    config_path = tmp_path / "alertmanager.yml"
    config_path.write_text(CONFIG.format(receiver_port=receiver_port, max_alerts=MAX_ALERTS))
    log_path = tmp_path / "alertmanager.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                f"--storage.path={tmp_path / 'data'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log_path)
        yield RunningAlertmanager(url=url, receiver_port=receiver_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_for_messages(app: Any, predicate: Any, timeout_seconds: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the receiver has stored messages that satisfy ``predicate``; return them all."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        messages = list(app[RECEIVED].messages)
        if predicate(messages):
            return messages
        await asyncio.sleep(0.1)
    pytest.fail(f"the receiver did not get the expected webhook within {timeout_seconds:.0f} s; it holds {list(app[RECEIVED].messages)!r}")


def recent_alert(node: str, **overrides: Any) -> Any:
    """Return a firing alert that started a minute ago, so Alertmanager treats it as current."""
    starts_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    return make_alert("QianliyanTest", node=node, starts_at=starts_at, **overrides)


def test_client_posts_and_reads_back(alertmanager: RunningAlertmanager) -> None:
    alert = recent_alert("r000-n00", annotations={"summary": "Xid 79 on GPU 3"})

    async def scenario() -> list[dict[str, Any]]:
        async with AlertmanagerClient(alertmanager.url) as client:
            await client.post_alerts([alert])
            return await client.get_alerts(filters=['alertname="QianliyanTest"'])

    alerts = asyncio.run(scenario())
    assert len(alerts) == 1
    assert alerts[0]["labels"] == alert.labels
    assert alerts[0]["annotations"] == {"summary": "Xid 79 on GPU 3"}
    assert alerts[0]["status"]["state"] == "active"
    assert alerts[0]["startsAt"].startswith(alert.starts_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_client_resolved_alert_leaves_active(alertmanager: RunningAlertmanager) -> None:
    alert = recent_alert("r000-n00")
    resolved = make_resolved(alert, minutes=0)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with AlertmanagerClient(alertmanager.url) as client:
            await client.post_alerts([alert])
            before = await client.get_alerts()
            await client.post_alerts([resolved])
            return before, await client.get_alerts()

    before, after = asyncio.run(scenario())
    assert len(before) == 1
    assert after == []


def test_client_error_names_status(alertmanager: RunningAlertmanager) -> None:
    async def scenario() -> None:
        async with AlertmanagerClient(alertmanager.url) as client:
            await client.get_alerts(filters=["not a matcher {"])

    with pytest.raises(AlertmanagerError, match="HTTP 400"):
        asyncio.run(scenario())


def test_alertmanager_webhook_reaches_receiver(alertmanager: RunningAlertmanager) -> None:
    alerts = [recent_alert(f"r000-n{index:02d}") for index in range(3)]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        app = create_app()
        server = TestServer(app, host="127.0.0.1", port=alertmanager.receiver_port)
        await server.start_server()
        try:
            async with AlertmanagerClient(alertmanager.url) as client:
                await client.post_alerts(alerts)
                firing = await wait_for_messages(app, lambda messages: any(m["payload"]["status"] == "firing" for m in messages))
                await client.post_alerts([make_resolved(alert, minutes=0) for alert in alerts])
                everything = await wait_for_messages(app, lambda messages: any(m["payload"]["status"] == "resolved" for m in messages))
        finally:
            await server.close()
        return firing, everything

    firing, everything = asyncio.run(scenario())
    first = WebhookMessage.model_validate(firing[0]["payload"])
    assert firing[0]["format"] == "alertmanager"
    assert first.version == "4"
    assert first.receiver == "qianliyan"
    assert first.group_labels == {"alertname": "QianliyanTest"}
    assert first.common_labels["alertname"] == "QianliyanTest"
    assert len(first.alerts) + first.truncated_alerts == 3
    assert len(first.alerts) <= MAX_ALERTS
    assert all(alert.fingerprint for alert in first.alerts)

    resolved = [WebhookMessage.model_validate(m["payload"]) for m in everything if m["payload"]["status"] == "resolved"]
    assert resolved[0].alerts[0].status == "resolved"
    assert resolved[0].alerts[0].ends_at.year == datetime.now(timezone.utc).year
