"""Tests of the ``train`` and ``evaluate`` commands through typer's test runner."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import typer
from typer.testing import CliRunner

from detectors.anomaly import Anomaly
from detectors.command import evaluate, train
from detectors.multivariate import load_model
from pipeline.schemas import FaultTruth
from tests.detectors.messages import START

app = typer.Typer()
app.command()(train)
app.command()(evaluate)
runner = CliRunner()


def plain(output: str) -> str:
    """Return command output without the error box drawing and line wrapping."""
    return re.sub(r"[│╭╮╰╯─\s]+", " ", output)


def write_csv(path: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(0)
    lines = ["gpu_temp,power,util"] + [",".join(f"{value:.3f}" for value in row) for row in rng.normal(50, 5, (rows, 3))]
    lines[5] = "51.0,,97"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_writes_model(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "healthy.csv")

    result = runner.invoke(app, ["train", "--input", str(source), "--output", str(tmp_path / "m.joblib"), "--model-version", "t1"])

    assert result.exit_code == 0, result.output
    assert "3 features, 200 rows" in result.output
    assert load_model(tmp_path / "m.joblib").feature_names == ("gpu_temp", "power", "util")


def test_train_selected_columns(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "healthy.csv")

    result = runner.invoke(app, ["train", "--input", str(source), "--output", str(tmp_path / "m.joblib"), "--column", "power", "--model", "pca"])

    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "m.joblib").feature_names == ("power",)


def test_train_text_value_rejected(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("a,b\n1,2\n3,hot\n")

    result = runner.invoke(app, ["train", "--input", str(source), "--output", str(tmp_path / "m.joblib")])

    assert result.exit_code == 2
    assert "line 3" in plain(result.output)


def test_evaluate_needs_one_mode() -> None:
    result = runner.invoke(app, ["evaluate"])

    assert result.exit_code == 2
    assert "exactly one" in plain(result.output)


def test_evaluate_emulator_run_json(tmp_path: Path) -> None:
    truth = FaultTruth(fault_id="f1", kind="xid_79", scope="gpu", entity="n1", gpu=2, start=START, end=START + timedelta(seconds=60))
    hit = Anomaly(time=START + timedelta(seconds=4), entity="n1", entity_kind="gpu", gpu=2, detector="rule.xid", score=1.0, severity="critical")
    (tmp_path / "truth.jsonl").write_text(truth.model_dump_json() + "\n")
    (tmp_path / "anomalies.jsonl").write_text(hit.model_dump_json() + "\n\n")

    result = runner.invoke(app, ["evaluate", "--anomalies", str(tmp_path / "anomalies.jsonl"), "--truth", str(tmp_path / "truth.jsonl"), "--json"])

    assert result.exit_code == 0, result.output
    rows = {row["kind"]: row for row in json.loads(result.output)}
    assert rows["xid_79"]["recall"] == 1.0
    assert rows["xid_79"]["detect_seconds_median"] == 4.0


def test_evaluate_invalid_line_reported(tmp_path: Path) -> None:
    (tmp_path / "truth.jsonl").write_text("{}\n")
    (tmp_path / "anomalies.jsonl").write_text("")

    result = runner.invoke(app, ["evaluate", "--anomalies", str(tmp_path / "anomalies.jsonl"), "--truth", str(tmp_path / "truth.jsonl")])

    assert result.exit_code == 2
    assert "line 1" in plain(result.output)
