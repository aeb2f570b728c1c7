"""``qianliyan train`` and ``qianliyan evaluate``: fit the multivariate model, score detections offline or through the pipeline."""

from __future__ import annotations

import csv
import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import numpy as np
import typer
from pydantic import ValidationError

from detectors.evaluation.datasets import DEFAULT_DATA_ROOT

if TYPE_CHECKING:
    from pipeline.evaluation.run import PartRun, PipelineEvaluation

logger = logging.getLogger(__name__)


class ModelKind(str, Enum):
    """Multivariate model that ``qianliyan train`` fits."""

    isolation_forest = "isolation_forest"
    pca = "pca"


def read_training_csv(path: Path, columns: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Read a CSV file with a header of feature names into a float matrix; empty cells become NaN.

    Raises:
        typer.BadParameter: The file is missing, empty, names an unknown column, or contains text
            where a number belongs.
    """
    if not path.is_file():
        raise typer.BadParameter(f"training file not found: {path}")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise typer.BadParameter(f"{path} is empty; expected a header row of feature names")
        names = columns or header
        missing = [name for name in names if name not in header]
        if missing:
            raise typer.BadParameter(f"{path} has no column {missing}; its columns are {header}")
        positions = [header.index(name) for name in names]
        rows = []
        for line_number, record in enumerate(reader, start=2):
            try:
                rows.append([float(record[position]) if record[position].strip() else np.nan for position in positions])
            except (ValueError, IndexError) as exc:
                raise typer.BadParameter(f"{path} line {line_number}: expected numbers in columns {names}, got {record}") from exc
    if not rows:
        raise typer.BadParameter(f"{path} has a header but no rows")
    return np.array(rows, dtype=float), names


def train(
    input_path: Annotated[Path, typer.Option("--input", help="CSV file of healthy samples: a header of feature names, one row per sample.")],
    output: Annotated[Path, typer.Option("--output", help="Model file to write (joblib).")],
    columns: Annotated[Optional[list[str]], typer.Option("--column", help="Feature to use; repeat for several. Default: every column.")] = None,
    model: Annotated[ModelKind, typer.Option(help="Model to fit.")] = ModelKind.isolation_forest,
    threshold_quantile: Annotated[float, typer.Option(min=0.5, max=0.999999, help="Quantile of the training scores used as the alarm threshold.")] = 0.999,
    model_version: Annotated[Optional[str], typer.Option(help="Version label stored in the model. Default: the training time.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the model's randomness.")] = 0,
) -> None:
    """Fit the multivariate model on healthy data and save it with its feature list and version."""
    from detectors.multivariate import IsolationForestDetector, PcaReconstructionDetector, save_model
    from detectors.multivariate import train as train_model

    matrix, names = read_training_csv(input_path, columns)
    detector = IsolationForestDetector(random_state=seed) if model is ModelKind.isolation_forest else PcaReconstructionDetector(random_state=seed)
    try:
        trained = train_model(matrix, names, detector=detector, threshold_quantile=threshold_quantile, model_version=model_version)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    path = save_model(trained, output)
    typer.echo(
        f"saved {model.value} model {trained.model_version} to {path}: {len(names)} features, "
        f"{trained.n_samples} rows, threshold {trained.threshold:.6g} (training quantile {threshold_quantile})"
    )


class PipelinePart(str, Enum):
    """Part of ``qianliyan evaluate --pipeline``; the names of ``pipeline.evaluation.run.PARTS``."""

    emulator = "emulator"
    fault_free = "fault-free"
    smd = "smd"
    nab = "nab"


PIPELINE_HELP = "With --pipeline only."


def evaluate(
    smd: Annotated[bool, typer.Option("--smd", help="Score the SMD detectors on the SMD machines present.")] = False,
    nab: Annotated[bool, typer.Option("--nab", help="Score the streaming detectors on NAB with its standard profile.")] = False,
    anomalies: Annotated[Optional[Path], typer.Option(help="JSON Lines file of anomalies from an emulator run.")] = None,
    truth: Annotated[Optional[Path], typer.Option(help="JSON Lines file of the run's fault ground truth (faults.truth records).")] = None,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline",
            help="Run the evaluation through real workers: publish to Kafka, read the anomalies topic back, score it. "
            "Needs Kafka and InfluxDB ('bash scripts/services.sh up', or QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS and "
            "QIANLIYAN_INFLUXDB__URL).",
        ),
    ] = False,
    parts: Annotated[
        Optional[list[PipelinePart]],
        typer.Option("--part", help=f"Part to run; repeat for several. Default: all four. {PIPELINE_HELP}"),
    ] = None,
    scenario: Annotated[
        Optional[Path], typer.Option(help=f"Scenario YAML of the emulator part. Default: emulators/scenarios/all-faults.yaml. {PIPELINE_HELP}")
    ] = None,
    topology: Annotated[
        Optional[Path],
        typer.Option(help=f"Topology YAML of the emulator and fault-free parts. Default: emulators/topologies/small.yaml. {PIPELINE_HELP}"),
    ] = None,
    samples: Annotated[
        Optional[int],
        typer.Option(
            min=1,
            help=(
                "Samples of the emulator part, one simulated second each. Default: up to the end of the scenario's last fault "
                "plus --grace-seconds (3750 for all-faults.yaml). A fault without a duration counts its kind's default "
                f"duration, at most 300 s, and a scenario without listed faults runs 3600. {PIPELINE_HELP}"
            ),
        ),
    ] = None,
    fault_free_samples: Annotated[
        Optional[int], typer.Option(min=1, help=f"Samples of the fault-free part. Default: 3600 (one simulated hour). {PIPELINE_HELP}")
    ] = None,
    speed: Annotated[
        Optional[float],
        typer.Option(
            min=0,
            help=(
                "Simulated seconds per wall-clock second of the emulator and fault-free parts, so that the worker keeps up "
                f"as it does with live telemetry; 0 publishes as fast as the broker takes it. Default: 10. {PIPELINE_HELP}"
            ),
        ),
    ] = None,
    smd_machines: Annotated[
        Optional[list[str]], typer.Option("--smd-machine", help=f"SMD machine to replay; repeat for several. Default: machine-1-6. {PIPELINE_HELP}")
    ] = None,
    smd_rows: Annotated[
        Optional[int], typer.Option(min=1, help=f"SMD test rows per machine, one simulated minute each. Default: 8000. {PIPELINE_HELP}")
    ] = None,
    nab_series: Annotated[
        Optional[list[str]],
        typer.Option("--nab-series", help=f"NAB series such as realKnownCause/nyc_taxi; repeat for several. Default: 5 series. {PIPELINE_HELP}"),
    ] = None,
    timeout: Annotated[
        Optional[float], typer.Option(min=1, help=f"Seconds to wait for each part's worker to catch up. Default: 900. {PIPELINE_HELP}")
    ] = None,
    quiet: Annotated[
        Optional[float],
        typer.Option(min=0, help=f"Seconds without new anomalies, at zero consumer lag, that end the wait. Default: 10. {PIPELINE_HELP}"),
    ] = None,
    keep: Annotated[
        Optional[Path],
        typer.Option(
            help=f"Folder for the worker logs, anomalies and ground truth, created when missing. Default: a temporary folder, removed. {PIPELINE_HELP}"
        ),
    ] = None,
    check_targets: Annotated[
        bool,
        typer.Option("--check-targets", help=f"Exit with status 3 when a target is NOT met. A target that is 'not measured' passes. {PIPELINE_HELP}"),
    ] = False,
    grace_seconds: Annotated[float, typer.Option(min=0, help="Seconds after a fault's end during which a detection still counts.")] = 60.0,
    data_root: Annotated[Path, typer.Option(help="Folder that contains smd/ and nab/.")] = DEFAULT_DATA_ROOT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Score detections against ground truth and print a table, or JSON with --json.

    Offline: --anomalies with --truth scores the files of an emulator run; --smd and --nab
    run the detectors in-process on the data sets.

    With --pipeline: each part starts its own 'qianliyan worker', publishes its input to
    Kafka and scores what the worker published on the anomalies topic. Parts: emulator (a
    scenario, per fault kind, with the precision, recall and time-to-detect targets),
    fault-free (an hour without faults; the target is no anomaly), smd and nab (replayed
    data sets). It needs the Kafka broker and InfluxDB of 'bash scripts/services.sh up' (or
    those that QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS and QIANLIYAN_INFLUXDB__URL name). All four
    parts took about 14 minutes in the recorded run at the default 10 times real time
    (emulator 388 s, fault-free 373 s, SMD 23 s, NAB 21 s, on 2 cores); the emulated parts
    take about --samples / --speed seconds each plus the wait for the worker. Each part's
    InfluxDB database and Kafka topics are deleted when its worker stops. Progress goes to
    standard error, tables or JSON to standard output.

    Exit status with --pipeline: 0 when every part ran, whether or not the targets are met;
    1 when Kafka or InfluxDB does not respond or a worker fails, exits or falls behind; 2 for
    invalid options or input files (checked before any worker starts); 3 with
    --check-targets when a target is NOT met.
    """
    pipeline_options = {
        "--part": parts, "--scenario": scenario, "--topology": topology, "--samples": samples,
        "--fault-free-samples": fault_free_samples, "--speed": speed, "--smd-machine": smd_machines, "--smd-rows": smd_rows,
        "--nab-series": nab_series, "--timeout": timeout, "--quiet": quiet, "--keep": keep,
        "--check-targets": check_targets or None,
    }
    offline = anomalies is not None or truth is not None
    if pipeline:
        chosen = [name for name, given in (("--smd", smd), ("--nab", nab), ("--anomalies/--truth", offline)) if given]
        if chosen:
            raise typer.BadParameter(f"--pipeline runs its own parts and cannot be combined with {', '.join(chosen)}; use --part to choose parts")
        evaluation = pipeline_evaluation(
            parts, scenario, topology, samples, fault_free_samples, smd_machines, smd_rows, nab_series, timeout, quiet, keep, grace_seconds,
            data_root, speed,
        )
        _print_pipeline(evaluation, as_json, check_targets)
        return
    given = [name for name, value in pipeline_options.items() if value is not None]
    if given:
        raise typer.BadParameter(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only with --pipeline")
    modes = [smd, nab, offline]
    if sum(modes) != 1:
        raise typer.BadParameter("choose exactly one of --smd, --nab, --anomalies with --truth, or --pipeline")

    if smd:
        _print_smd(data_root, as_json)
    elif nab:
        _print_nab(data_root, as_json)
    else:
        if anomalies is None or truth is None:
            raise typer.BadParameter("an emulator run needs both --anomalies and --truth")
        _print_faults(anomalies, truth, grace_seconds, as_json)


def pipeline_evaluation(
    parts: list[PipelinePart] | None = None,
    scenario: Path | None = None,
    topology: Path | None = None,
    samples: int | None = None,
    fault_free_samples: int | None = None,
    smd_machines: list[str] | None = None,
    smd_rows: int | None = None,
    nab_series: list[str] | None = None,
    timeout: float | None = None,
    quiet: float | None = None,
    keep: Path | None = None,
    grace_seconds: float = 60.0,
    data_root: Path = DEFAULT_DATA_ROOT,
    speed: float | None = None,
) -> PipelineEvaluation:
    """Return the ``PipelineEvaluation`` of the options, defaults where an option is not given; parts keep their order, once each."""
    from pipeline.evaluation.run import PipelineEvaluation

    defaults = PipelineEvaluation()
    chosen = tuple(dict.fromkeys(part.value for part in parts)) if parts else defaults.parts
    return PipelineEvaluation(
        parts=chosen,
        scenario=scenario or defaults.scenario,
        topology=topology or defaults.topology,
        samples=samples,
        fault_free_samples=fault_free_samples or defaults.fault_free_samples,
        smd_machines=tuple(smd_machines) if smd_machines else defaults.smd_machines,
        smd_rows=smd_rows or defaults.smd_rows,
        nab_series=tuple(nab_series) if nab_series else defaults.nab_series,
        data_root=data_root,
        timeout_seconds=defaults.timeout_seconds if timeout is None else timeout,
        quiet_seconds=defaults.quiet_seconds if quiet is None else quiet,
        grace_seconds=grace_seconds,
        keep=keep,
        speed=defaults.speed if speed is None else speed,
    )


def _print_pipeline(evaluation: PipelineEvaluation, as_json: bool, check_targets: bool = False) -> None:
    """Run the pipeline evaluation and print each part as it ends, then exit with the status that ``evaluate --help`` lists."""
    from kafka.errors import KafkaError

    from pipeline.cli_common import load_settings, setup_logging
    from pipeline.errors import QianliyanError
    from pipeline.evaluation.run import EvaluationInputError, check_inputs, run_pipeline_evaluation, unmet_targets

    try:
        check_inputs(evaluation)
    except EvaluationInputError as exc:
        _exit_with_error(str(exc), 2, exc)
    settings = load_settings()
    setup_logging(settings.log_level)

    def show(run: PartRun) -> None:
        if not as_json:
            typer.echo("\n" + run.text())

    try:
        runs = run_pipeline_evaluation(settings, evaluation, on_part=show)
    except EvaluationInputError as exc:
        _exit_with_error(str(exc), 2, exc)
    except QianliyanError as exc:
        _exit_with_error(str(exc), 1, exc)
    except KafkaError as exc:
        _exit_with_error(f"Kafka at {settings.kafka.bootstrap_servers} failed during the evaluation: {exc!r}", 1, exc)
    if as_json:
        typer.echo(json.dumps({run.part: run.as_json() for run in runs}, indent=2, default=str))
    unmet = unmet_targets(runs)
    if check_targets and unmet:
        _exit_with_error(f"{len(unmet)} target(s) NOT met: {', '.join(unmet)}", 3)


def _exit_with_error(message: str, status: int, cause: BaseException | None = None) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status) from cause


def _read_jsonl(path: Path, model: type) -> list:  # type: ignore[type-arg]
    if not path.is_file():
        raise typer.BadParameter(f"file not found: {path}")
    records = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError as exc:
            raise typer.BadParameter(f"{path} line {line_number} is not a valid {model.__name__}: {exc.errors()[0]['msg']}") from exc
    return records


def _print_faults(anomalies_path: Path, truth_path: Path, grace_seconds: float, as_json: bool) -> None:
    from detectors.anomaly import Anomaly
    from detectors.evaluation.faults import score_faults
    from detectors.evaluation.report import as_json as to_json
    from pipeline.evaluation.tables import kind_table
    from pipeline.schemas import FaultTruth

    rows = score_faults(_read_jsonl(truth_path, FaultTruth), _read_jsonl(anomalies_path, Anomaly), grace_seconds=grace_seconds)
    if as_json:
        typer.echo(json.dumps(to_json(rows), indent=2))
        return
    typer.echo(kind_table(rows))


def _print_smd(data_root: Path, as_json: bool) -> None:
    from detectors.evaluation.report import as_json as to_json
    from detectors.evaluation.report import render_table
    from detectors.evaluation.runs import evaluate_smd

    rows = evaluate_smd(data_root=data_root)
    if as_json:
        typer.echo(json.dumps(to_json(rows), indent=2))
        return
    table = [[row.machine, row.detector, row.point_adjusted.f1, row.composite.f1, row.event_wise.f1] for row in rows]
    typer.echo(render_table(["machine", "detector", "PA-F1", "Fc1", "event-F1"], table))


def _print_nab(data_root: Path, as_json: bool) -> None:
    from detectors.evaluation.report import as_json as to_json
    from detectors.evaluation.report import render_table
    from detectors.evaluation.runs import evaluate_nab

    runs = evaluate_nab(data_root=data_root)
    if as_json:
        typer.echo(json.dumps(to_json(runs), indent=2))
        return
    table = []
    for run in runs:
        table.append([run.detector, "(corpus)", run.result.normalized])
        table += [[run.detector, file.name, file.normalized] for file in run.result.files]
    typer.echo(render_table(["detector", "series", "NAB score"], table))


if __name__ == "__main__":
    app = typer.Typer(add_completion=False)
    app.command()(train)
    app.command()(evaluate)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app()
