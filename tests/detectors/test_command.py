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


# --- evaluate --pipeline: option checks that run before any service is contacted -------------


def cli_evaluate(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Run ``qianliyan evaluate`` through the real command line app."""
    from pipeline.cli import app as qianliyan

    return runner.invoke(qianliyan, ["evaluate", *args], env=env)


def test_pipeline_parts_match_the_runner() -> None:
    from detectors.command import PipelinePart
    from pipeline.evaluation.run import PARTS

    assert tuple(part.value for part in PipelinePart) == PARTS


def test_pipeline_excludes_offline_modes(tmp_path: Path) -> None:
    for extra in (["--smd"], ["--nab"], ["--anomalies", str(tmp_path / "a.jsonl")], ["--truth", str(tmp_path / "t.jsonl")]):
        result = cli_evaluate("--pipeline", *extra)

        assert result.exit_code == 2, (extra, result.output)
        assert "cannot be combined with" in plain(result.output)


def test_pipeline_excludes_several_offline_modes_at_once() -> None:
    result = cli_evaluate("--pipeline", "--smd", "--nab")

    assert result.exit_code == 2
    assert "cannot be combined with --smd, --nab" in plain(result.output)


def test_pipeline_unknown_part_rejected() -> None:
    result = cli_evaluate("--pipeline", "--part", "bogus")

    assert result.exit_code == 2
    text = plain(result.output)
    assert "bogus" in text and "fault-free" in text


def test_pipeline_options_need_pipeline() -> None:
    result = cli_evaluate("--nab", "--part", "nab", "--samples", "10")

    assert result.exit_code == 2
    assert "--part, --samples apply only with --pipeline" in plain(result.output)


def test_pipeline_missing_nab_series_rejected_before_services() -> None:
    result = cli_evaluate("--pipeline", "--part", "nab", "--nab-series", "nowhere/nothing")

    assert result.exit_code == 2
    assert "NAB series nowhere/nothing not found" in plain(result.output)


def test_pipeline_missing_scenario_rejected(tmp_path: Path) -> None:
    result = cli_evaluate("--pipeline", "--part", "emulator", "--scenario", str(tmp_path / "none.yaml"))

    assert result.exit_code == 2
    assert "none.yaml not found" in plain(result.output)


def test_pipeline_unreachable_services_one_line_error() -> None:
    from tests.integration.conftest import free_port

    kafka, influxdb = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    env = {"QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS": kafka, "QIANLIYAN_INFLUXDB__URL": influxdb}

    result = cli_evaluate("--pipeline", "--part", "fault-free", env=env)

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert kafka in errors[0] and influxdb in errors[0] and "scripts/services.sh up" in errors[0]
    assert "Traceback" not in result.output
