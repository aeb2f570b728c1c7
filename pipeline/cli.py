"""The ``qianliyan`` command line: each command lives in the module of its component."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from emulators.command import emulate
from emulators.ettr_study.command import ettr
from emulators.replay.command import replay
from dashboards.command import dashboards_app
from detectors.command import evaluate, train
from pipeline.alerts.command import receiver
from pipeline.report.command import report
from pipeline import __version__
from pipeline.cli_common import BootstrapOption, PrefixOption, load_settings, setup_logging
from pipeline.errors import QianliyanError
from pipeline.settings import Settings

app = typer.Typer(
    help="qianliyan: streaming telemetry and fault detection for AI training clusters.\n\n"
    "Settings come from QIANLIYAN_* environment variables (for example "
    "QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS, QIANLIYAN_INFLUXDB__URL); options override them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
logger = logging.getLogger("qianliyan")

app.command()(emulate)
app.command()(replay)
app.command()(ettr)
app.command()(receiver)
app.command()(report)
app.command()(train)
app.command()(evaluate)
app.add_typer(dashboards_app, name="dashboards")


@app.command()
def worker(
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Run the Faust worker: validate, detect, correlate into incidents, decide actions, write to InfluxDB."""
    import faust

    from pipeline.app import create_app
    from pipeline.kafka_admin import ensure_topics

    settings = load_settings(bootstrap_servers, topic_prefix)
    setup_logging(settings.log_level)
    from pipeline.metrics import PipelineMetrics

    ensure_topics(settings.kafka)
    _ensure_database(settings)
    metrics = PipelineMetrics()
    if settings.metrics_port:
        metrics.serve(settings.metrics_host, settings.metrics_port)
    faust_app = create_app(settings, metrics)
    logger.info(
        "worker starting app_id=%s kafka=%s topic_prefix=%r influxdb=%s bucket=%s",
        settings.app_id, settings.kafka.bootstrap_servers, settings.kafka.topic_prefix,
        settings.influxdb.url, settings.influxdb.bucket,
    )
    faust.Worker(faust_app, loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()


def _ensure_database(settings: Settings) -> None:
    """Create the worker's InfluxDB database when it is missing, so that writes do not wait on HTTP 404."""
    from pipeline.errors import ServiceUnavailableError
    from pipeline.sinks.influxql import InfluxQLError, ensure_database

    try:
        if ensure_database(settings.influxdb):
            logger.info("InfluxDB database created url=%s database=%s", settings.influxdb.url, settings.influxdb.bucket.split("/", 1)[0])
    except ServiceUnavailableError as exc:
        logger.warning("InfluxDB not reachable at start, writes will retry until it is url=%s error=%s", settings.influxdb.url, exc)
    except InfluxQLError as exc:
        logger.warning("could not check or create the InfluxDB database; create it yourself url=%s bucket=%s error=%s",
                       settings.influxdb.url, settings.influxdb.bucket, exc)


@app.command()
def topics(
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Create the pipeline's Kafka topics that do not exist yet."""
    from pipeline.kafka_admin import all_topic_names, ensure_topics

    settings = load_settings(bootstrap_servers, topic_prefix)
    setup_logging(settings.log_level)
    created = ensure_topics(settings.kafka)
    for name in all_topic_names(settings.kafka):
        typer.echo(f"{name}\t{'created' if name in created else 'exists'}")


@app.command()
def demo(
    samples: Annotated[int, typer.Option(min=120, help="Simulated seconds of each run.")] = 600,
    speed: Annotated[float, typer.Option(min=1.0, help="How much faster than real time the simulated clock runs.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Emulator seed.")] = 0,
    scenario: Annotated[
        Optional[Path], typer.Option(exists=True, dir_okay=False, help="Scenario YAML; default: a GPU falls off the bus after 60 s.")
    ] = None,
) -> None:
    """Run a faulty training job with and without automatic fault tolerance and compare their ETTR."""
    from pipeline.demo import run_demo

    settings = load_settings()
    setup_logging(settings.log_level)
    run_demo(settings, samples=samples, speed=speed, seed=seed, scenario_path=scenario)


@app.command()
def version() -> None:
    """Print the qianliyan version."""
    typer.echo(__version__)


def main() -> None:
    """Run the command line and turn qianliyan errors into a message and exit status 1."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        # Without a terminal, rich lays help out in 80 columns and cuts option names.
        os.environ["COLUMNS"] = "120"
    try:
        app()
    except QianliyanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
