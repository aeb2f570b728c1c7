import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulators.clock import simulated_ticks
from emulators.export_csv import DEFAULT_CSV_FIELDS, check_fields, export_gpu_rows
from emulators.run import build_emulator
from emulators.topology import Topology
from pipeline.cli import app
from tests.emulators.harness import PROJECT_ROOT, START

TOPOLOGY = Topology(racks=1, nodes_per_rack=2, gpus_per_node=4, spare_nodes=0)


def test_export_one_row_per_gpu_sample(tmp_path: Path) -> None:
    path = tmp_path / "healthy.csv"

    result = export_gpu_rows(build_emulator(TOPOLOGY, seed=0), simulated_ticks(START, 1.0, 5), path)

    rows = list(csv.reader(path.open()))
    assert rows[0] == list(DEFAULT_CSV_FIELDS)
    assert len(rows) == 1 + 5 * 8
    assert result.rows == 40
    assert result.samples == 5
    assert all(float(cell) >= 0 for row in rows[1:] for cell in row)


def test_export_chosen_fields(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"

    export_gpu_rows(build_emulator(TOPOLOGY, seed=0), simulated_ticks(START, 1.0, 2), path, ["DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_TEMP"])

    assert next(csv.reader(path.open())) == ["DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_TEMP"]


def test_unknown_field_rejected() -> None:
    with pytest.raises(ValueError, match="unknown GPU field"):
        check_fields(["DCGM_FI_DEV_GPU_TEMP", "cpu"])


def test_command_exports_then_trains(tmp_path: Path) -> None:
    runner = CliRunner()
    csv_path = tmp_path / "healthy.csv"
    model_path = tmp_path / "gpu.joblib"

    exported = runner.invoke(app, ["emulate", "--racks", "1", "--nodes-per-rack", "2", "--samples", "30", "--start",
                                   "2026-01-01T00:00:00Z", "--csv", str(csv_path)])
    trained = runner.invoke(app, ["train", "--input", str(csv_path), "--output", str(model_path)])

    assert exported.exit_code == 0, exported.output
    assert "wrote 480 GPU rows of 30 samples" in exported.output
    assert trained.exit_code == 0, trained.output
    assert model_path.is_file()


def test_command_rejects_faults_with_csv(tmp_path: Path) -> None:
    scenario = PROJECT_ROOT / "emulators" / "scenarios" / "straggler.yaml"

    result = CliRunner().invoke(app, ["emulate", "--samples", "5", "--csv", str(tmp_path / "x.csv"), "--scenario", str(scenario)])

    assert result.exit_code != 0
    assert "healthy training data" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_command_needs_samples_with_csv(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["emulate", "--csv", str(tmp_path / "x.csv")])

    assert result.exit_code != 0
    assert "--samples" in result.output
