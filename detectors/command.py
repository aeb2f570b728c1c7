"""``qianliyan train`` and ``qianliyan evaluate``: fit the multivariate model, score detections offline."""

from __future__ import annotations

import csv
import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from pydantic import ValidationError

from detectors.evaluation.datasets import DEFAULT_DATA_ROOT

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


def evaluate(
    smd: Annotated[bool, typer.Option("--smd", help="Score the SMD detectors on the SMD machines present.")] = False,
    nab: Annotated[bool, typer.Option("--nab", help="Score the streaming detectors on NAB with its standard profile.")] = False,
    anomalies: Annotated[Optional[Path], typer.Option(help="JSON Lines file of anomalies from an emulator run.")] = None,
    truth: Annotated[Optional[Path], typer.Option(help="JSON Lines file of the run's fault ground truth (faults.truth records).")] = None,
    grace_seconds: Annotated[float, typer.Option(min=0, help="Seconds after a fault's end during which a detection still counts.")] = 60.0,
    data_root: Annotated[Path, typer.Option(help="Folder that contains smd/ and nab/.")] = DEFAULT_DATA_ROOT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Score detections against ground truth: an emulator run, SMD or NAB, and print a table."""
    modes = [smd, nab, anomalies is not None or truth is not None]
    if sum(modes) != 1:
        raise typer.BadParameter("choose exactly one of --smd, --nab, or --anomalies with --truth")

    if smd:
        _print_smd(data_root, as_json)
    elif nab:
        _print_nab(data_root, as_json)
    else:
        if anomalies is None or truth is None:
            raise typer.BadParameter("an emulator run needs both --anomalies and --truth")
        _print_faults(anomalies, truth, grace_seconds, as_json)


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
    from detectors.evaluation.report import render_table
    from pipeline.schemas import FaultTruth

    rows = score_faults(_read_jsonl(truth_path, FaultTruth), _read_jsonl(anomalies_path, Anomaly), grace_seconds=grace_seconds)
    if as_json:
        typer.echo(json.dumps(to_json(rows), indent=2))
        return
    table = [
        [row.kind, row.faults, row.detected, row.false_alarms, row.precision, row.recall, row.f1, row.detect_seconds_median, row.detect_seconds_max]
        for row in rows
    ]
    typer.echo(render_table(["fault kind", "faults", "detected", "false alarms", "precision", "recall", "F1", "median TTD s", "max TTD s"], table))


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
