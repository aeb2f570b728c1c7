from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from emulators.faults.catalog import CATALOG
from emulators.faults.scenario import ScenarioSource, load_scenario
from emulators.job import JobConfig
from emulators.topology import load_topology
from tests.emulators.harness import PROJECT_ROOT, START

SCENARIOS = PROJECT_ROOT / "emulators" / "scenarios"
SMALL_FILE = load_topology(PROJECT_ROOT / "emulators" / "topologies" / "small.yaml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda path: path.name)
def test_scenario_file_resolves_on_small_topology(path: Path) -> None:
    ScenarioSource(load_scenario(path), SMALL_FILE).resolve(START)


def test_all_faults_scenario_covers_catalog() -> None:
    scenario = load_scenario(SCENARIOS / "all-faults.yaml")
    assert {fault.kind for fault in scenario.faults} == set(CATALOG)


def test_scenario_relative_start_counts_from_origin(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "faults:\n  - {kind: straggler, node: r000-n01, start: 90}\n"))
    source = ScenarioSource(scenario, SMALL_FILE)
    assert source.due(START) == []
    due = source.due(START + timedelta(seconds=90))
    assert [fault.start for fault in due] == [START + timedelta(seconds=90)]
    assert source.due(START + timedelta(seconds=91)) == []


def test_scenario_absolute_start(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "faults:\n  - {kind: psu_failure, rack: r001, start: '2026-01-01T12:05:00Z'}\n"))
    (fault,) = ScenarioSource(scenario, SMALL_FILE).resolve(START)
    assert fault.start == START + timedelta(minutes=5)
    assert fault.rack == 1


def test_scenario_kind_default_duration(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "faults:\n  - {kind: link_flap, node: r000-n00, start: 0}\n"))
    (fault,) = ScenarioSource(scenario, SMALL_FILE).resolve(START)
    assert fault.duration_seconds == CATALOG["link_flap"].default_duration_seconds


def test_scenario_job_section_overrides_config(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "job: {manual_recovery_seconds: 60, checkpoint_every_steps: 50}\n"))
    config = scenario.job.apply(JobConfig())
    assert config.manual_recovery_seconds == 60
    assert config.checkpoint_every_steps == 50
    assert config.restart_seconds == JobConfig().restart_seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("faults: [\n", "invalid YAML in scenario file"),
        ("fault: []\n", "invalid scenario file"),
        ("faults:\n  - {kind: straggler, node: r000-n00}\n", "start"),
        ("faults:\n  - {kind: meteor, node: r000-n00, start: 0}\n", "fault 0: unknown fault kind 'meteor'"),
        ("faults:\n  - {kind: straggler, node: r000-n00, start: -1}\n", "start must be 0 or more seconds"),
        ("faults:\n  - {kind: straggler, node: r000-n00, start: '2026-01-01T00:00:00'}\n", "timezone"),
    ],
)
def test_load_scenario_rejects_bad_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_scenario(write(tmp_path, text))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{kind: straggler, node: r009-n00, start: 0}", "fault 0 \\(straggler\\): unknown node 'r009-n00'"),
        ("{kind: gpu_thermal, node: r000-n00, start: 0}", "needs 'gpu'"),
        ("{kind: gpu_thermal, node: r000-n00, gpu: 8, start: 0}", "gpu index 8 is outside 0..7"),
        ("{kind: cdu_pump_failure, start: 0}", "needs 'rack'"),
        ("{kind: straggler, node: r000-n00, start: 0, params: {speed: 2}}", "unknown parameter\\(s\\) \\['speed'\\] for kind straggler; known: ramp_seconds, slowdown"),
    ],
)
def test_scenario_resolve_rejects_bad_place(tmp_path: Path, entry: str, message: str) -> None:
    scenario = load_scenario(write(tmp_path, f"faults:\n  - {entry}\n"))
    with pytest.raises(ValueError, match=message):
        ScenarioSource(scenario, SMALL_FILE).resolve(START)
