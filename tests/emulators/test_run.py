from __future__ import annotations

from datetime import timedelta

import pytest

from emulators.command import format_goodput
from emulators.faults.random_process import RandomFaultConfig, RandomFaultProcess
from emulators.faults.scenario import Scenario, ScenarioFault, ScenarioJob, ScenarioSource
from emulators.run import DEFAULT_JOB, build_emulator
from tests.emulators.harness import SMALL, START


def test_build_emulator_applies_scenario_job() -> None:
    scenario = Scenario(job=ScenarioJob(manual_recovery_seconds=45))
    emulator = build_emulator(SMALL, seed=0, scenario=scenario)
    assert emulator.job.config.manual_recovery_seconds == 45
    assert emulator.job.config.goodput_interval_seconds == DEFAULT_JOB.goodput_interval_seconds


def test_build_emulator_checks_places_early() -> None:
    scenario = Scenario(faults=[ScenarioFault(kind="straggler", node="r042-n00", start=0)])
    with pytest.raises(ValueError, match="unknown node 'r042-n00'"):
        build_emulator(SMALL, seed=0, scenario=scenario)


def test_build_emulator_random_replaces_scenario_random() -> None:
    scenario = Scenario(random=RandomFaultConfig(rate_multiplier=1.0))
    emulator = build_emulator(SMALL, seed=0, scenario=scenario, random_faults=RandomFaultConfig(rate_multiplier=9.0))
    sources = emulator.injector.sources
    assert isinstance(sources[0], ScenarioSource)
    assert isinstance(sources[1], RandomFaultProcess)
    assert sources[1].config.rate_multiplier == 9.0


def test_build_emulator_scenario_faults_start() -> None:
    scenario = Scenario(faults=[ScenarioFault(kind="psu_failure", rack="r001", start=3, duration=2)])
    emulator = build_emulator(SMALL, seed=0, scenario=scenario)
    for second in range(10):
        emulator.sample(START + timedelta(seconds=second))
    assert emulator.injector.started == 1
    assert emulator.injector.ended == 1


def test_format_goodput_lists_losses() -> None:
    emulator = build_emulator(SMALL, seed=0)
    for second in range(20):
        emulator.sample(START + timedelta(seconds=second))
    text = format_goodput(emulator.job.goodput_value(START))
    assert text.startswith("job job-0001: ETTR ")
    assert "  detection " in text
    assert "productive" not in text
