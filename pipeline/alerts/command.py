"""``qianliyan receiver``: run the small webhook receiver of the demo stack and the tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.cli_common import setup_logging


def receiver(
    host: Annotated[str, typer.Option(help="Address to bind: 127.0.0.1 takes local requests only, 0.0.0.0 takes all.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 9095,
    secret: Annotated[
        Optional[str],
        typer.Option(
            envvar="QIANLIYAN_ALERTS__WEBHOOK_SECRET",
            show_default=False,
            help="Shared HMAC secret; requests without a valid signature get HTTP 401. Unset: accept unsigned requests.",
        ),
    ] = None,
    store: Annotated[Optional[Path], typer.Option(help="JSON-lines file that each accepted message is appended to.")] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
) -> None:
    """Receive alert webhooks, verify their signature, and keep the messages (GET /messages)."""
    from pipeline.alerts.receiver import run_receiver

    setup_logging(log_level)
    try:
        asyncio.run(run_receiver(host, port, secret or None, store))
    except KeyboardInterrupt:
        pass
