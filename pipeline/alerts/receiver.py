"""A small webhook receiver: verify signatures, keep the accepted payloads, serve them back.

It serves the demo stack and the tests as the far end of the alert webhook:

- ``POST /webhook`` accepts an Alertmanager version 4 or a plain message. With a secret,
  requests without a valid signature get HTTP 401. A repeated
  ``X-Qianliyan-Notification-Id`` gets HTTP 200 but is stored only once.
- ``GET /messages`` returns the stored messages, oldest first, as a JSON list.
- ``GET /-/healthy`` returns 200 while the receiver runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from pipeline.alerts.models import PlainMessage, WebhookMessage
from pipeline.alerts.signature import (
    DEFAULT_TOLERANCE_SECONDS,
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_STORED_MESSAGES = 1_000


class ReceivedMessages:
    """Accepted messages in memory, bounded, and optionally appended to a JSON-lines file."""

    def __init__(self, path: Path | None = None, max_messages: int = MAX_STORED_MESSAGES) -> None:
        self.path = path
        self.messages: deque[dict[str, Any]] = deque(maxlen=max_messages)
        self._seen_ids: OrderedDict[str, None] = OrderedDict()
        self._max_ids = max_messages

    def add(self, notification_id: str | None, format: str, payload: dict[str, Any]) -> bool:
        """Store one message; return False, storing nothing, when its id was seen before."""
        if notification_id is not None:
            if notification_id in self._seen_ids:
                return False
            self._seen_ids[notification_id] = None
            if len(self._seen_ids) > self._max_ids:
                self._seen_ids.popitem(last=False)
        record = {
            "received_at": datetime.now(timezone.utc).isoformat(),
            "notification_id": notification_id,
            "format": format,
            "payload": payload,
        }
        self.messages.append(record)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(record, sort_keys=True) + "\n")
        return True


RECEIVED = web.AppKey("received", ReceivedMessages)


def parse_payload(document: Any) -> tuple[str, WebhookMessage | PlainMessage]:
    """Validate a decoded body as an Alertmanager (version "4") or plain message.

    Raises:
        ValueError: the document is neither; pydantic's ``ValidationError`` is a subclass.
    """
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    if document.get("format") == "qianliyan.plain":
        return "plain", PlainMessage.model_validate(document)
    if document.get("version") == "4":
        return "alertmanager", WebhookMessage.model_validate(document)
    raise ValueError(f"unknown payload: version {document.get('version')!r}, format {document.get('format')!r}; expected version '4' or format 'qianliyan.plain'")


def create_app(
    *,
    secret: str | None = None,
    store_path: Path | None = None,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """Create the receiver's aiohttp application.

    Without a secret, unsigned requests are accepted (Alertmanager itself does not sign).
    """
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[RECEIVED] = ReceivedMessages(store_path)
    key = secret.encode() if secret else None

    async def handle_webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if key is not None:
            try:
                verify(key, body, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), now=clock(), tolerance_seconds=tolerance_seconds)
            except SignatureError as exc:
                logger.warning("webhook rejected remote=%s reason=%s", request.remote, exc)
                return web.json_response({"error": str(exc)}, status=401)

        try:
            document = json.loads(body)
            format, message = parse_payload(document)
        except ValueError as exc:
            reason = str(exc).splitlines()[0][:300]
            logger.warning("webhook rejected remote=%s reason=%s", request.remote, reason)
            return web.json_response({"error": f"invalid payload: {reason}"}, status=400)

        notification_id = request.headers.get(NOTIFICATION_ID_HEADER)
        added = request.app[RECEIVED].add(notification_id, format, document)
        logger.info(
            "webhook received notification_id=%s format=%s status=%s alerts=%d truncated_alerts=%d duplicate=%s",
            notification_id, format, message.status, len(message.alerts), message.truncated_alerts, not added,
        )
        return web.json_response({"status": "accepted" if added else "duplicate"})

    async def handle_messages(request: web.Request) -> web.Response:
        return web.json_response(list(request.app[RECEIVED].messages))

    async def handle_healthy(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app.router.add_post("/webhook", handle_webhook)
    app.router.add_get("/messages", handle_messages)
    app.router.add_get("/-/healthy", handle_healthy)
    return app


async def run_receiver(host: str, port: int, secret: str | None, store_path: Path | None = None) -> None:
    """Serve the receiver on ``host:port`` until SIGTERM or SIGINT arrives or the task is cancelled."""
    runner = web.AppRunner(create_app(secret=secret, store_path=store_path))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("webhook receiver started host=%s port=%d signed=%s store=%s", host, port, secret is not None, store_path)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signal_number, stop.set)
        except (NotImplementedError, RuntimeError):
            # Outside the main thread, or on Windows, only cancellation stops the receiver.
            pass
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        logger.info("webhook receiver stopped host=%s port=%d", host, port)
