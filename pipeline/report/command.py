"""``qianliyan report INCIDENT_ID``: write the HTML report of one incident."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.cli_common import load_settings, setup_logging

logger = logging.getLogger(__name__)


def report(
    incident_id: Annotated[str, typer.Argument(help="Incident id, for example inc-0123456789abcdef.")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="HTML file to write; default report-<incident id>.html.")
    ] = None,
    window_minutes: Annotated[
        float, typer.Option(min=0, max=1440, help="Minutes of telemetry shown before the start and after the end.")
    ] = 10.0,
) -> None:
    """Write a self-contained HTML report of one incident: signals, evidence, actions and their outcomes."""
    from pipeline.report.data import load_report
    from pipeline.report.render import render_report

    settings = load_settings()
    setup_logging(settings.log_level)
    path = output or Path(f"report-{incident_id}.html")

    data = load_report(settings.influxdb, incident_id, timedelta(minutes=window_minutes))
    path.write_text(render_report(data), encoding="utf-8")
    logger.info("report written incident_id=%s path=%s bytes=%d", incident_id, path, path.stat().st_size)
    typer.echo(str(path))
