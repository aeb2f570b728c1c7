"""The ``qianliyan`` command line."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from pipeline import __version__
from pipeline.errors import QianliyanError
from pipeline.settings import Settings

app = typer.Typer(
    help="qianliyan: streaming telemetry and fault detection for AI training clusters.\n\n"
    "Settings come from QIANLIYAN_* environment variables (for example "
    "QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS, QIANLIYAN_INFLUXDB__URL); options override them.",
    no_args_is_help=True,
    add_completion=False,
)
logger = logging.getLogger("qianliyan")


def _load_settings(bootstrap_servers: str | None = None, topic_prefix: str | None = None) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error: invalid settings in the environment:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    if bootstrap_servers is not None:
        settings.kafka = settings.kafka.model_copy(update={"bootstrap_servers": bootstrap_servers})
    if topic_prefix is not None:
        settings.kafka = settings.kafka.model_copy(update={"topic_prefix": topic_prefix})
    return settings


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    if value == "now":
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"invalid start time {value!r}; expected ISO 8601 such as 2026-01-01T00:00:00Z, or 'now'") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter(f"start time {value!r} has no time zone; add Z for UTC")
    return moment.astimezone(timezone.utc)


BootstrapOption = Annotated[
    Optional[str], typer.Option("--bootstrap-servers", help="Kafka host:port list; default from QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS or 127.0.0.1:9092.")
]
PrefixOption = Annotated[Optional[str], typer.Option("--topic-prefix", help="Prefix for every topic name.")]


@app.command()
def emulate(
    racks: Annotated[int, typer.Option(min=1, help="Number of racks.")] = 2,
    nodes_per_rack: Annotated[int, typer.Option(min=1, help="Nodes in each rack.")] = 4,
    gpus_per_node: Annotated[int, typer.Option(min=1, max=64, help="GPUs in each node.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of every random draw; the same seed gives the same stream.")] = 0,
    samples: Annotated[Optional[int], typer.Option(min=1, help="Samples to publish, then stop. Default: until Ctrl-C.")] = None,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between samples, in event time.")] = 1.0,
    start: Annotated[
        Optional[str],
        typer.Option(help="Simulated clock: first event time (ISO 8601, or 'now'); samples are published as fast as Kafka takes them. Default: wall clock."),
    ] = None,
    cluster: Annotated[str, typer.Option(help="Cluster name in every message.")] = "default",
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Publish telemetry of an emulated GPU cluster to Kafka."""
    from emulators.run import run_emulation
    from emulators.topology import Topology

    settings = _load_settings(bootstrap_servers, topic_prefix)
    _setup_logging(settings.log_level)
    topology = Topology(cluster=cluster, racks=racks, nodes_per_rack=nodes_per_rack, gpus_per_node=gpus_per_node)
    result = run_emulation(settings.kafka, topology, seed=seed, samples=samples, interval_seconds=interval, start=_parse_start(start))
    typer.echo(f"published {result.records} messages in {result.samples} samples ({result.wall_seconds:.1f} s)")


@app.command()
def worker(
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Run the Faust worker: validate telemetry, dead-letter bad messages, write to InfluxDB."""
    import faust

    from pipeline.app import create_app
    from pipeline.kafka_admin import ensure_topics

    settings = _load_settings(bootstrap_servers, topic_prefix)
    _setup_logging(settings.log_level)
    ensure_topics(settings.kafka)
    faust_app = create_app(settings)
    logger.info(
        "worker starting app_id=%s kafka=%s topic_prefix=%r influxdb=%s bucket=%s",
        settings.app_id, settings.kafka.bootstrap_servers, settings.kafka.topic_prefix,
        settings.influxdb.url, settings.influxdb.bucket,
    )
    faust.Worker(faust_app, loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()


@app.command()
def topics(
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Create the pipeline's Kafka topics that do not exist yet."""
    from pipeline.kafka_admin import all_topic_names, ensure_topics

    settings = _load_settings(bootstrap_servers, topic_prefix)
    _setup_logging(settings.log_level)
    created = ensure_topics(settings.kafka)
    for name in all_topic_names(settings.kafka):
        typer.echo(f"{name}\t{'created' if name in created else 'exists'}")


@app.command()
def demo(
    seconds: Annotated[int, typer.Option(min=5, help="Seconds of wall-clock telemetry to publish.")] = 30,
    seed: Annotated[int, typer.Option(help="Emulator seed.")] = 0,
) -> None:
    """Run the emulator and the worker together, then print what reached InfluxDB."""
    from pipeline.demo import run_demo

    settings = _load_settings()
    _setup_logging(settings.log_level)
    run_demo(settings, seconds=seconds, seed=seed)


@app.command()
def version() -> None:
    """Print the qianliyan version."""
    typer.echo(__version__)


def main() -> None:
    """Run the command line and turn qianliyan errors into a message and exit status 1."""
    try:
        app()
    except QianliyanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
