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
    assert "bogus" in text
    assert "fault-free" in text


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
    assert kafka in errors[0]
    assert influxdb in errors[0]
    assert "scripts/services.sh up" in errors[0]
    assert "Traceback" not in result.output


MALFORMED_SCENARIOS = {
    "fault without start": ("faults:\n  - kind: gpu_fell_off_bus\n    node: r001-n01\n    gpu: 3\n", "faults.0.start: Field required"),
    "unknown kind": ("faults:\n  - kind: gpu_fell_off_cliff\n    node: r001-n01\n    start: 5\n", "unknown fault kind 'gpu_fell_off_cliff'"),
    "YAML syntax error": ("faults:\n  - kind: [gpu\n    start: 5\n", "invalid YAML in scenario file"),
    "node not in topology": (
        "faults:\n  - kind: gpu_fell_off_bus\n    node: r099-n01\n    gpu: 3\n    start: 5\n", "unknown node 'r099-n01'",
    ),
}


def forbid_workers(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Replace the worker start of the pipeline evaluation with a recorder; return the parts it was asked to start."""
    import pipeline.evaluation.run as run_module

    started: list[str] = []

    def record(settings, part, work_dir):  # type: ignore[no-untyped-def]
        started.append(part)
        raise AssertionError(f"a worker was started for part {part}")

    monkeypatch.setattr(run_module, "running_worker", record)
    return started


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_pipeline_malformed_scenario_one_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    started = forbid_workers(monkeypatch)
    for case, (text, problem) in MALFORMED_SCENARIOS.items():
        scenario = tmp_path / f"{case.replace(' ', '-')}.yaml"
        scenario.write_text(text)

        result = cli_evaluate("--pipeline", "--part", "emulator", "--scenario", str(scenario))

        assert result.exit_code == 2, (case, result.output)
        assert "Traceback" not in result.output, case
        errors = error_lines(result.output)
        assert len(errors) == 1, (case, result.output)
        assert str(scenario) in errors[0], (case, errors[0])
        assert problem in errors[0], (case, errors[0])
    assert started == []


def test_pipeline_malformed_topology_one_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    started = forbid_workers(monkeypatch)
    cases = {"racks: two\n": "racks must be int", "racks: [2\n": "invalid YAML in topology file", "floors: 3\n": "unknown key(s) ['floors']"}
    for text, problem in cases.items():
        topology = tmp_path / "topology.yaml"
        topology.write_text(text)

        result = cli_evaluate("--pipeline", "--part", "fault-free", "--topology", str(topology))

        assert result.exit_code == 2, (text, result.output)
        errors = error_lines(result.output)
        assert len(errors) == 1, (text, result.output)
        assert str(topology) in errors[0], errors[0]
        assert problem in errors[0], errors[0]
        assert "Traceback" not in result.output
    assert started == []


def test_pipeline_keep_file_rejected(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    started = forbid_workers(monkeypatch)
    existing = tmp_path / "results.txt"
    existing.write_text("not a folder\n")

    cases = {existing: f"--keep {existing} exists and is not a folder", existing / "sub": f"cannot be created because {existing} is not a folder"}
    for keep, problem in cases.items():
        result = cli_evaluate("--pipeline", "--part", "fault-free", "--keep", str(keep))

        assert result.exit_code == 2, (keep, result.output)
        errors = error_lines(result.output)
        assert len(errors) == 1, result.output
        assert str(keep) in errors[0], errors[0]
        assert problem in errors[0], errors[0]
        assert "Traceback" not in result.output
    assert started == []


def fake_fault_free_run(anomalies: int):  # type: ignore[no-untyped-def]
    """Return a stand-in for ``run_pipeline_evaluation`` whose one fault-free part found ``anomalies`` anomalies."""
    from pipeline.evaluation.parts import FaultFreeResult
    from pipeline.evaluation.run import PartRun
    from pipeline.evaluation.targets import fault_free_targets

    def run(settings, evaluation, on_part=None):  # type: ignore[no-untyped-def]
        part = PartRun("fault-free", 1.0, FaultFreeResult("small.yaml", 64, 10, 100, 0, anomalies, 1.0, []), fault_free_targets(anomalies))
        if on_part is not None:
            on_part(part)
        return [part]

    return run


def test_pipeline_check_targets_exit_status(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pipeline.evaluation.run as run_module

    cases = [(0, [], 0), (0, ["--check-targets"], 0), (2, [], 0), (2, ["--check-targets"], 3)]
    for anomalies, extra, expected in cases:
        monkeypatch.setattr(run_module, "run_pipeline_evaluation", fake_fault_free_run(anomalies))

        result = cli_evaluate("--pipeline", "--part", "fault-free", *extra)

        assert result.exit_code == expected, (anomalies, extra, result.output)
        assert "anomalies without faults" in result.output
        if expected == 3:
            assert error_lines(result.output) == ["error: 1 target(s) NOT met: fault-free: anomalies without faults"]


def test_check_targets_needs_pipeline() -> None:
    result = cli_evaluate("--nab", "--check-targets")

    assert result.exit_code == 2
    assert "--check-targets applies only with --pipeline" in plain(result.output)


def test_pipeline_help_names_exit_status() -> None:
    result = cli_evaluate("--help", env={"COLUMNS": "200"})

    text = plain(result.output)
    assert result.exit_code == 0
    assert "Exit status with --pipeline: 0 when every part ran" in text
    assert "3 with --check-targets when a target is NOT met" in text
    assert "about 14 minutes" in text
