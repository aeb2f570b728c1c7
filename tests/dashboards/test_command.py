"""Tests of ``dashboards push`` against a fake Grafana API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dashboards.command import dashboard_payloads, dashboards_app, push_boards

TOKEN = "glsa_test_token"


class FakeGrafana:
    """A minimal Grafana HTTP API that records requests and returns scripted statuses."""

    def __init__(self, folder_exists: bool = False, dashboard_status: int = 200) -> None:
        self.folder_exists = folder_exists
        self.dashboard_status = dashboard_status
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.record(self, None)
                if self.path == "/api/folders/qianliyan" and fake.folder_exists:
                    self.reply(200, {"uid": "qianliyan", "title": "qianliyan"})
                else:
                    self.reply(404, {"message": "folder not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.record(self, body)
                if self.path == "/api/folders":
                    self.reply(200, {"uid": body.get("uid"), "title": body["title"]})
                elif self.path == "/api/dashboards/db":
                    uid = body["dashboard"]["uid"]
                    self.reply(fake.dashboard_status, {"status": "success", "uid": uid, "url": f"/d/{uid}/board", "version": 1})
                else:
                    self.reply(404, {"message": "not found"})

            def reply(self, status: int, document: dict[str, Any]) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        self.requests.append({"method": handler.command, "path": handler.path, "headers": dict(handler.headers), "body": body})


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    """Serve a fake Grafana in a thread for the duration of one test."""
    fake = FakeGrafana()
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=5)


def invoke_push(*arguments: str) -> Any:
    """Run ``dashboards push`` with the given options through typer's test runner."""
    return CliRunner().invoke(dashboards_app, ["push", *arguments], env={"QIANLIYAN_GRAFANA_TOKEN": TOKEN})


def test_payloads_one_per_board() -> None:
    payloads = dashboard_payloads("qianliyan")
    assert [payload["dashboard"]["uid"] for payload in payloads] == [
        "qianliyan-cluster", "qianliyan-stability", "qianliyan-hardware", "qianliyan-pipeline",
    ]


def test_payloads_overwrite_into_folder() -> None:
    for payload in dashboard_payloads("ops"):
        assert payload["folderUid"] == "ops"
        assert payload["overwrite"] is True
        assert payload["dashboard"]["id"] is None
        assert payload["message"]


def test_push_creates_missing_folder(grafana: FakeGrafana) -> None:
    from grafana_client.api import GrafanaApi

    urls = push_boards(GrafanaApi.from_url(grafana.url, credential=TOKEN), "qianliyan", "qianliyan")
    calls = [(request["method"], request["path"]) for request in grafana.requests]
    assert calls[:2] == [("GET", "/api/folders/qianliyan"), ("POST", "/api/folders")]
    assert calls[2:] == [("POST", "/api/dashboards/db")] * 4
    assert urls[0] == "/d/qianliyan-cluster/board"


def test_push_keeps_existing_folder(grafana: FakeGrafana) -> None:
    from grafana_client.api import GrafanaApi

    grafana.folder_exists = True
    push_boards(GrafanaApi.from_url(grafana.url, credential=TOKEN), "qianliyan", "qianliyan")
    assert ("POST", "/api/folders") not in [(request["method"], request["path"]) for request in grafana.requests]


def test_push_command_sends_token(grafana: FakeGrafana) -> None:
    result = invoke_push("--url", grafana.url)
    assert result.exit_code == 0, result.output
    assert "/d/qianliyan-pipeline/board" in result.output
    assert grafana.requests[-1]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert grafana.requests[-1]["body"]["dashboard"]["title"] == "qianliyan: pipeline performance"


def test_push_command_reports_server_error(grafana: FakeGrafana) -> None:
    grafana.dashboard_status = 500
    result = invoke_push("--url", grafana.url.replace("http://", "http://admin:pw@"))
    assert result.exit_code == 1
    assert "pushing the boards to Grafana" in result.output
    assert "admin:pw" not in result.output


def test_dashboards_app_has_commands() -> None:
    result = CliRunner().invoke(dashboards_app, ["--help"])
    assert result.exit_code == 0
    assert "push" in result.output
    assert "generate" in result.output
    assert isinstance(dashboards_app, typer.Typer)
