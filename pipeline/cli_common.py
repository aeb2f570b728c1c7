"""Helpers shared by the command modules of the ``qianliyan`` command line."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from pipeline.settings import Settings

BootstrapOption = Annotated[
    Optional[str],
    typer.Option("--bootstrap-servers", help="Kafka host:port list; default from QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS or 127.0.0.1:9092."),
]
PrefixOption = Annotated[Optional[str], typer.Option("--topic-prefix", help="Prefix for every topic name.")]


def load_settings(bootstrap_servers: str | None = None, topic_prefix: str | None = None) -> Settings:
    """Read settings from the environment and apply the command-line overrides.

    Exits with status 2 and the pydantic message when a variable is invalid.
    """
    # Options go in as init arguments, which pydantic-settings merges over the environment,
    # so a valid option replaces an invalid variable instead of failing on it.
    kafka: dict[str, str] = {}
    if bootstrap_servers is not None:
        kafka["bootstrap_servers"] = bootstrap_servers
    if topic_prefix is not None:
        kafka["topic_prefix"] = topic_prefix
    try:
        return Settings(kafka=kafka) if kafka else Settings()  # type: ignore[arg-type]
    except ValidationError as exc:
        typer.echo(f"error: invalid settings (QIANLIYAN_* environment variables, .env or options):\n{exc}", err=True)
        raise typer.Exit(2) from exc


def setup_logging(level: str) -> None:
    """Send log records to standard error with time, level and logger name."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # The Kafka clients log every connection and metadata refresh at INFO.
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    # kafka-python warns whenever one of its network tasks runs over 0.1 s, which happens
    # on any busy machine and tells nothing about the pipeline.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)


def parse_start(value: str | None) -> datetime | None:
    """Parse an ISO 8601 time with a time zone, or 'now', into UTC; ``None`` stays ``None``."""
    if value is None:
        return None
    if value == "now":
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"invalid time {value!r}; expected ISO 8601 such as 2026-01-01T00:00:00Z, or 'now'") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter(f"time {value!r} has no time zone; add Z for UTC")
    return moment.astimezone(timezone.utc)
