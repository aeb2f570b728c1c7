"""``qianliyan ettr``: the effective-training-time study of a large job under failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import ValidationError

from pipeline.cli_common import setup_logging


def _read_json(path: Path, option: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise typer.BadParameter(f"file {path} not found", param_hint=option) from exc
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"file {path} is not valid JSON: {exc}", param_hint=option) from exc


def _load_parameters(config: Path | None, overrides: dict[str, Any], detection_delays: Path | None) -> Any:
    """Build the study parameters: defaults, then the config file, then the command-line options."""
    from emulators.ettr_study.model import StudyParameters

    data: dict[str, Any] = _read_json(config, "--config") if config is not None else {}
    if not isinstance(data, dict):
        raise typer.BadParameter(f"file {config} must hold a JSON object of study parameters", param_hint="--config")
    automatic = dict(data.get("automatic", StudyParameters().automatic.model_dump()))
    automatic.update({key: value for key, value in overrides.pop("automatic").items() if value is not None})
    if detection_delays is not None:
        delays = _read_json(detection_delays, "--detection-delays")
        if not isinstance(delays, dict):
            raise typer.BadParameter(
                f"file {detection_delays} must map fault classes to seconds, e.g. {{\"crash\": 4.5}}", param_hint="--detection-delays"
            )
        automatic["detection_delay_seconds"] = {**automatic["detection_delay_seconds"], **delays}
    data.update({key: value for key, value in overrides.items() if value is not None}, automatic=automatic)
    try:
        return StudyParameters.model_validate(data)
    except ValidationError as exc:
        raise typer.BadParameter(f"invalid study parameters:\n{exc}") from exc


def ettr(
    nodes: Annotated[Optional[int], typer.Option(min=1, help="Nodes in the job. Default 1250.")] = None,
    gpus_per_node: Annotated[Optional[int], typer.Option(min=1, help="GPUs in each node. Default 8.")] = None,
    days: Annotated[Optional[float], typer.Option(min=0.001, help="Wall time of the job in days. Default 30.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="First seed; run k uses seed + k. Default 0.")] = None,
    runs: Annotated[int, typer.Option(min=1, help="Seeds to run; the report gives the mean and the range of 95 % of runs.")] = 20,
    checkpoint_interval_seconds: Annotated[Optional[float], typer.Option(min=0.001, help="Automatic policy: seconds of training between checkpoints.")] = None,
    checkpoint_stall_seconds: Annotated[Optional[float], typer.Option(min=0, help="Automatic policy: seconds each checkpoint stalls training.")] = None,
    hot_spare_nodes: Annotated[Optional[int], typer.Option(min=0, help="Automatic policy: nodes in the hot-spare pool.")] = None,
    restart_seconds: Annotated[Optional[float], typer.Option(min=0, help="Automatic policy: seconds to restart the job and load the checkpoint.")] = None,
    detection_delays: Annotated[
        Optional[Path],
        typer.Option(help='JSON file of measured detection delays for the automatic policy, seconds per fault class, one value or a list: {"crash": 4.2, "hang": [31, 44]}.'),
    ] = None,
    config: Annotated[Optional[Path], typer.Option(help="JSON file with any study parameters (the --json output's 'parameters' object); options override it.")] = None,
    fault_trace: Annotated[Optional[Path], typer.Option(help="InfiniteHBD fault_trace.json for repair times. Default: ../shared/data/infinitehbd-fault-trace.")] = None,
    bursty: Annotated[bool, typer.Option("--bursty", help="Draw failures from a Weibull renewal process (clustered in time) in place of Poisson.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate a large training job under failures and print its ETTR and badput, with and without automatic fault tolerance."""
    from emulators.ettr_study.repair import DEFAULT_FAULT_TRACE, load_repair_seconds
    from emulators.ettr_study.report import format_table, summarize
    from emulators.ettr_study.simulate import run_study

    setup_logging("WARNING")
    overrides: dict[str, Any] = {
        "nodes": nodes,
        "gpus_per_node": gpus_per_node,
        "duration_days": days,
        "seed": seed,
        "automatic": {
            "checkpoint_interval_seconds": checkpoint_interval_seconds,
            "checkpoint_stall_seconds": checkpoint_stall_seconds,
            "hot_spare_nodes": hot_spare_nodes,
            "restart_seconds": restart_seconds,
        },
    }
    params = _load_parameters(config, overrides, detection_delays)
    if bursty:
        params = params.model_copy(update={"failures": params.failures.model_copy(update={"arrival_process": "weibull"})})

    repair_seconds = load_repair_seconds(fault_trace or DEFAULT_FAULT_TRACE)
    summary = summarize(params, run_study(params, runs, repair_seconds))
    typer.echo(json.dumps(summary, indent=2) if json_output else format_table(summary))
