"""Fixtures and helpers of the alert tests: alert factories and local HTTP servers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.alerts.models import Alert

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def make_alert(name: str = "GpuXid", node: str = "r000-n00", **overrides: Any) -> Alert:
    """Return a firing alert with cluster, rack and node labels, fields replaced by ``overrides``."""
    fields: dict[str, Any] = {
        "labels": {"alertname": name, "cluster": "test", "rack": "r000", "node": node, "severity": "critical"},
        "annotations": {"summary": f"{name} on {node}"},
        "starts_at": START,
        "generator_url": "http://127.0.0.1:3000/d/qianliyan-hardware",
    }
    fields.update(overrides)
    return Alert(**fields)


def make_resolved(alert: Alert, minutes: int = 5) -> Alert:
    """Return the resolved form of ``alert``, ended ``minutes`` after it started."""
    return alert.model_copy(update={"status": "resolved", "ends_at": alert.starts_at + timedelta(minutes=minutes)})


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[TestServer]:
    """Serve ``app`` on 127.0.0.1 at a free port for the duration of the block."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
