"""Tests of the ETTR study's failure draws, event loop and command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from emulators.ettr_study.command import ettr
from emulators.ettr_study.failures import FailureDraws, draw_failures
from emulators.ettr_study.model import AUTOMATIC_POLICY, BADPUT_KINDS, FailureModel, StudyParameters
from emulators.ettr_study.repair import load_repair_seconds
from emulators.ettr_study.report import summarize
from emulators.ettr_study.simulate import run_study, simulate_policy

REPAIR_SECONDS = load_repair_seconds()


def _one_failure(params: StudyParameters, category_name: str, time_seconds: float, repair_seconds: float = 3600.0) -> FailureDraws:
    names = tuple(category.name for category in params.failures.categories) + ("persistent_straggler",)
    return FailureDraws(
        category_names=names,
        time_seconds=np.array([time_seconds]),
        category=np.array([names.index(category_name)]),
        detection_quantile=np.array([0.0]),
        repair_seconds=np.array([repair_seconds]),
        duration_seconds=np.array([0.0]),
    )


def test_draws_same_seed_same_failures() -> None:
    params = StudyParameters(duration_days=5)
    first, second = draw_failures(params, REPAIR_SECONDS, 7), draw_failures(params, REPAIR_SECONDS, 7)
    assert np.array_equal(first.time_seconds, second.time_seconds)
    assert np.array_equal(first.category, second.category)
    assert np.array_equal(first.repair_seconds, second.repair_seconds)


def test_study_same_seed_same_result() -> None:
    params = StudyParameters(duration_days=5)
    first, second = run_study(params, 2, REPAIR_SECONDS), run_study(params, 2, REPAIR_SECONDS)
    assert [run.automatic.ettr for run in first] == [run.automatic.ettr for run in second]
    assert [run.manual.badput_seconds for run in first] == [run.manual.badput_seconds for run in second]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("policy", ["automatic", "manual"])
def test_badput_sums_to_lost_time(seed: int, policy: str) -> None:
    params = StudyParameters(seed=seed)
    result = getattr(run_study(params, 1, REPAIR_SECONDS)[0], policy)
    assert 0.0 <= result.ettr <= 1.0
    assert all(seconds >= 0 for seconds in result.badput_seconds.values())
    assert sum(result.badput_seconds.values()) == pytest.approx(result.wall_seconds - result.productive_seconds, abs=1e-6)
    per_category = sum(sum(kinds.values()) for kinds in result.loss_by_category.values())
    assert per_category == pytest.approx(sum(result.badput_seconds.values()), abs=1e-6)


def test_zero_failures_lose_only_checkpoints() -> None:
    params = StudyParameters(
        failures=FailureModel(straggler_node_fraction=0.0).scaled(0.0),
        automatic=AUTOMATIC_POLICY.model_copy(update={"checkpoint_interval_seconds": 1800.0, "checkpoint_stall_seconds": 5.0}),
    )
    result = run_study(params, 1, REPAIR_SECONDS)[0].automatic

    # 30 days = 2,592,000 s hold 1,436 full periods of 1,805 s. The 20 s left end before the next stall.
    assert result.badput_seconds["checkpoint"] == pytest.approx(1436 * 5.0)
    assert result.ettr == pytest.approx(1.0 - 1436 * 5.0 / 2_592_000.0, abs=1e-12)
    assert sum(seconds for kind, seconds in result.badput_seconds.items() if kind != "checkpoint") == 0.0


def test_one_crash_matches_hand_count() -> None:
    policy = AUTOMATIC_POLICY.model_copy(update={
        "checkpoint_interval_seconds": 100.0, "checkpoint_stall_seconds": 2.0, "decision_seconds": 10.0,
        "node_swap_seconds": 30.0, "restart_seconds": 60.0, "hot_spare_nodes": 1,
    })
    params = StudyParameters(duration_days=1, automatic=policy)
    result = simulate_policy(params, policy, _one_failure(params, "gpu_hard_fault", 350.0))

    # Checkpoints end at 102, 204, 306: the crash at 350 replays 44 s. Down: 10 s detection,
    # 10 + 30 s isolation, 60 s restart; the job runs again at 460 and checkpoints every 102 s.
    # From 460 to 86,400 there are 842 full periods plus 56 s, so 3 + 842 stalls of 2 s.
    assert result.badput_seconds["replayed"] == pytest.approx(44.0)
    assert result.badput_seconds["detection"] == pytest.approx(10.0)
    assert result.badput_seconds["isolation"] == pytest.approx(40.0)
    assert result.badput_seconds["restart"] == pytest.approx(60.0)
    assert result.badput_seconds["spare_wait"] == 0.0
    assert result.badput_seconds["checkpoint"] == pytest.approx((3 + 842) * 2.0)


def test_empty_pool_waits_for_repair() -> None:
    policy = AUTOMATIC_POLICY.model_copy(update={"hot_spare_nodes": 0, "cold_spare_provision_seconds": None})
    params = StudyParameters(duration_days=1, automatic=policy)
    result = simulate_policy(params, policy, _one_failure(params, "gpu_hard_fault", 1000.0, repair_seconds=7200.0))

    # The repair ends at 8,200 s; the swap is requested after 10 s detection and 10 s decision.
    assert result.badput_seconds["spare_wait"] == pytest.approx(7200.0 - 20.0)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_more_spares_never_lower_ettr(seed: int) -> None:
    params = StudyParameters(seed=seed)
    draws = draw_failures(params, REPAIR_SECONDS, seed)
    ettrs = [
        simulate_policy(params, params.automatic.model_copy(update={"hot_spare_nodes": spares}), draws).ettr
        for spares in (0, 4, 16, 32, 64, 128)
    ]
    assert all(later >= earlier - 1e-12 for earlier, later in zip(ettrs, ettrs[1:])), ettrs


def test_automatic_beats_manual_on_same_draws() -> None:
    run = run_study(StudyParameters(), 1, REPAIR_SECONDS)[0]
    assert run.automatic.ettr > run.manual.ettr


def test_default_study_above_target() -> None:
    # Regression guard, not a measurement: the 98.8 % target holds only for the documented
    # defaults of the automatic policy (60 s restart, 60 s in-memory checkpoints, 64 spares).
    params = StudyParameters()
    summary = summarize(params, run_study(params, 20, REPAIR_SECONDS))
    assert summary["policies"]["automatic"]["ettr"]["mean"] > 0.988


def test_command_json_parses() -> None:
    app = typer.Typer()
    app.command()(ettr)
    result = CliRunner().invoke(app, ["--runs", "2", "--days", "3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["study"]["runs"] == 2
    assert set(summary["policies"]) == {"automatic", "manual"}
    assert set(summary["policies"]["automatic"]["badput"]) == set(BADPUT_KINDS)
    assert 0.0 <= summary["policies"]["automatic"]["ettr"]["mean"] <= 1.0


def test_command_reads_detection_delays(tmp_path: Path) -> None:
    delays = tmp_path / "delays.json"
    delays.write_text(json.dumps({"crash": [3.0, 5.0], "hang": 20.0}))
    app = typer.Typer()
    app.command()(ettr)
    result = CliRunner().invoke(app, ["--runs", "1", "--days", "2", "--json", "--detection-delays", str(delays)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["parameters"]["automatic"]["detection_delay_seconds"]["crash"] == [3.0, 5.0]


def test_command_rejects_negative_delay(tmp_path: Path) -> None:
    delays = tmp_path / "delays.json"
    delays.write_text(json.dumps({"crash": -1.0}))
    app = typer.Typer()
    app.command()(ettr)
    result = CliRunner().invoke(app, ["--runs", "1", "--detection-delays", str(delays)])
    assert result.exit_code == 2
    assert "non-negative" in result.output


def test_repair_times_from_trace() -> None:
    assert REPAIR_SECONDS.size == 298
    assert math.isclose(float(np.median(REPAIR_SECONDS)) / 3600.0, 32.57, abs_tol=0.01)
