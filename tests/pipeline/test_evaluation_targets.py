"""Targets, tables, anomaly grouping, run length and topic clean-up of the pipeline evaluation, without services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detectors.anomaly import Anomaly
from detectors.evaluation.faults import KindScores
from pipeline.evaluation.parts import START, FaultFreeResult, anomaly_sources
from pipeline.evaluation.tables import fault_free_table, targets_table
from pipeline.evaluation.targets import emulator_targets, fault_free_targets, time_class


def kind(name: str, faults: int = 1, detected: int = 1, median: float | None = 0.0, false_alarms: int = 0) -> KindScores:
    recall = detected / faults if faults else 0.0
    precision = detected / (detected + false_alarms) if detected + false_alarms else 0.0
    return KindScores(name, faults, detected, false_alarms, precision, recall, 0.0, median if detected else None, median if detected else None)


def by_name(checks):  # type: ignore[no-untyped-def]
    return {check.name: check for check in checks}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpu_fell_off_bus", "instant"),  # onset instant
        ("gsp_hang", "hang"),  # onset instant, but a hang by its name
        ("software_hang", "hang"),
        ("cdu_pump_failure", "fail-slow"),  # onset fast
        ("pcie_degradation", "fail-slow"),  # onset gradual
        ("xid_79", None),  # not in the catalog
    ],
)
def test_time_class(name: str, expected: str | None) -> None:
    assert time_class(name) == expected


def test_emulator_targets_all_met() -> None:
    kinds = [kind("gpu_fell_off_bus", median=2.0), kind("software_hang", median=40.0), kind("pcie_degradation", median=100.0), kind("all", 3, 3)]

    checks = by_name(emulator_targets(kinds))

    assert list(checks) == ["precision", "recall", "TTD p50 instant", "TTD p50 hang", "TTD p50 fail-slow"]
    assert all(check.met for check in checks.values())
    assert checks["TTD p50 instant"].figure == 2.0
    assert checks["TTD p50 hang"].kinds == ("software_hang",)


def test_emulator_targets_not_met() -> None:
    kinds = [
        kind("gpu_fell_off_bus", median=8.0),
        kind("gsp_hang", median=90.0),
        kind("software_hang", detected=0),
        kind("all", 3, 2, false_alarms=2),
    ]

    checks = by_name(emulator_targets(kinds))

    assert checks["precision"].status == "NOT met"
    assert checks["precision"].figure == 0.5
    assert checks["recall"].status == "NOT met"
    assert checks["recall"].figure == pytest.approx(2 / 3)
    assert checks["TTD p50 instant"].status == "NOT met"
    assert checks["TTD p50 instant"].figure == 8.0
    assert checks["TTD p50 hang"].status == "NOT met"
    assert checks["TTD p50 hang"].figure == 90.0
    assert checks["TTD p50 hang"].note == "1 of 2 faults detected"
    assert checks["TTD p50 fail-slow"].status == "not measured"


def test_class_p50_counts_each_detected_fault() -> None:
    # Three detected instant faults at 1 s and one at 30 s: the p50 is 1 s, not the mean of the two kinds.
    kinds = [kind("gpu_fell_off_bus", 3, 3, median=1.0), kind("coolant_leak", median=30.0), kind("all", 4, 4)]

    checks = by_name(emulator_targets(kinds))

    assert checks["TTD p50 instant"].figure == 1.0
    assert checks["TTD p50 instant"].met


def test_class_without_detection_is_not_met() -> None:
    checks = by_name(emulator_targets([kind("cdu_pump_failure", detected=0), kind("all", 1, 0)]))

    assert checks["TTD p50 fail-slow"].figure is None
    assert checks["TTD p50 fail-slow"].status == "NOT met"


def test_fault_free_target() -> None:
    assert fault_free_targets(0)[0].met
    missed = fault_free_targets(3)[0]
    assert not missed.met
    assert missed.figure == 3
    assert missed.goal == 0


def test_targets_table_lines() -> None:
    text = targets_table(emulator_targets([kind("gpu_fell_off_bus", median=7.0), kind("all", 1, 1)]))
    lines = {line.split("  ")[0]: line for line in text.splitlines()}

    assert "NOT met" in lines["TTD p50 instant"]
    assert "<= 5 s" in lines["TTD p50 instant"]
    assert "7.000" in lines["TTD p50 instant"]
    assert "met" in lines["recall"]
    assert ">= 0.95" in lines["recall"]
    assert "not measured" in lines["TTD p50 hang"]


def test_anomaly_sources_group_by_detector_and_entity() -> None:
    def anomaly(seconds: int, detector: str, entity: str, gpu: int | None = None, fault_class: str | None = None) -> Anomaly:
        return Anomaly(
            time=START + timedelta(seconds=seconds), entity=entity, entity_kind="gpu" if gpu is not None else "job", gpu=gpu,
            detector=detector, score=1.0, severity="warning", fault_class=fault_class,
        )

    sources = anomaly_sources([
        anomaly(5, "job.hang", "job-1", fault_class="job_hang"),
        anomaly(1, "stats.robust_z", "n1", gpu=2),
        anomaly(9, "stats.robust_z", "n1", gpu=2),
        anomaly(3, "stats.robust_z", "n1", gpu=3),
    ])

    assert [(s.detector, s.entity, s.anomalies) for s in sources] == [
        ("stats.robust_z", "n1/gpu2", 2), ("job.hang", "job-1", 1), ("stats.robust_z", "n1/gpu3", 1),
    ]
    assert sources[0].first == START + timedelta(seconds=1)
    assert sources[0].last == START + timedelta(seconds=9)
    assert sources[1].fault_classes == ("job_hang",)

    table = fault_free_table(FaultFreeResult("small.yaml", 64, 120, 2826, 0, 4, 3.0, sources))
    assert table.splitlines()[0] == "120 samples on small.yaml (64 GPUs), 2826 messages, 0 faults injected, 4 anomalies"
    assert "n1/gpu2" in table


def test_find_crash_reads_new_complete_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pipeline.evaluation.worker_run import _find_crash

    log = tmp_path / "worker.log"
    log.write_text("[WARNING] spare pool empty\n")
    crash, offset = _find_crash(log, 0)
    assert crash is None
    assert offset == log.stat().st_size

    with log.open("a") as handle:
        handle.write("[ERROR] [^----Agent*: pipeline.app.store_telemetry]: Crashed reason=4 validation errors for Anomaly\nTraceback")
    crash, offset = _find_crash(log, offset)
    assert crash == "4 validation errors for Anomaly"
    assert offset < log.stat().st_size  # the unfinished last line is left for the next call


def test_no_scored_fault_not_measured() -> None:
    checks = by_name(emulator_targets([kind("all", faults=0, detected=0, false_alarms=2)]))

    for name in ("precision", "recall", "TTD p50 instant", "TTD p50 hang", "TTD p50 fail-slow"):
        assert checks[name].status == "not measured", name
        assert checks[name].figure is None, name
    assert checks["recall"].note == "no scored fault started in the run, 2 false alarms"


def test_no_fault_warning_names_first_start() -> None:
    from pipeline.evaluation.parts import no_fault_warning

    line = no_fault_warning("gpu-fell-off-bus.yaml", 60.0, 30)

    assert line.startswith("emulator: warning: no fault of gpu-fell-off-bus.yaml started within the 30 samples")
    assert "(its first fault starts at 60 s)" in line
    assert line.endswith("leave out --samples to run to the end of the scenario")
    assert "\n" not in line
    assert no_fault_warning("random.yaml", None, 3600).endswith("not measured; raise --samples or the scenario's random fault rate")


def scenario_of(*faults: dict):  # type: ignore[no-untyped-def]
    from emulators.faults.scenario import Scenario

    return Scenario.model_validate({"faults": list(faults)})


def test_scenario_samples_follow_last_fault() -> None:
    from pipeline.evaluation.inputs import MAX_COUNTED_FAULT_SECONDS, scenario_samples

    gpu = {"kind": "gpu_fell_off_bus", "node": "r000-n00", "gpu": 0}
    cases = [
        (scenario_of({**gpu, "start": 30, "duration": 60}, {**gpu, "start": 40, "duration": 5}), 30 + 60 + 60),  # the latest end counts
        (scenario_of({**gpu, "start": 60}), 60 + MAX_COUNTED_FAULT_SECONDS + 60),  # lasts until the run ends
        (scenario_of({"kind": "link_flap", "node": "r000-n00", "start": 10}), 10 + 6 + 60),  # kind's default of 6 s
        (scenario_of({"kind": "ecc_sbe_storm", "node": "r000-n00", "gpu": 0, "start": 10}), 10 + MAX_COUNTED_FAULT_SECONDS + 60),  # 6 h, capped
        (scenario_of({**gpu, "start": (START + timedelta(seconds=90)).isoformat(), "duration": 10}), 90 + 10 + 60),
        (scenario_of({**gpu, "start": (START - timedelta(seconds=90)).isoformat(), "duration": 10}), 10 + 60),
        (scenario_of(), 3600),  # only random faults, or none
    ]
    for scenario, expected in cases:
        assert scenario_samples(scenario, START, 60.0) == expected, scenario


def test_default_samples_of_shipped_scenarios() -> None:
    from pipeline.evaluation.parts import PROJECT_ROOT
    from pipeline.evaluation.run import PipelineEvaluation, emulator_samples

    scenarios = PROJECT_ROOT / "emulators" / "scenarios"

    assert emulator_samples(PipelineEvaluation()) == 3750  # all-faults.yaml: last fault at 3630 s for 60 s, and 60 s grace
    assert emulator_samples(PipelineEvaluation(scenario=scenarios / "gpu-fell-off-bus.yaml")) == 60 + 300 + 60
    assert emulator_samples(PipelineEvaluation(scenario=scenarios / "gpu-fell-off-bus.yaml", grace_seconds=0)) == 60 + 300
    assert emulator_samples(PipelineEvaluation(scenario=scenarios / "gpu-fell-off-bus.yaml", samples=30)) == 30


def test_run_topics_prefix_and_group() -> None:
    from pipeline.kafka_admin import run_topics
    from pipeline.settings import KafkaSettings

    kafka = KafkaSettings(topic_prefix="eval-0a1b2c3d.")
    names = [
        "eval-0a1b2c3d.anomalies", "eval-0a1b2c3d.telemetry.gpu", "eval-emulator-0a1b2c3d-__assignor-__leader",
        "eval-99999999.anomalies", "eval-emulator-99999999-__assignor-__leader", "anomalies", "__consumer_offsets",
    ]

    assert run_topics(names, kafka, "eval-emulator-0a1b2c3d") == [
        "eval-0a1b2c3d.anomalies", "eval-0a1b2c3d.telemetry.gpu", "eval-emulator-0a1b2c3d-__assignor-__leader",
    ]
    with pytest.raises(ValueError, match="topic prefix"):
        run_topics(names, KafkaSettings(topic_prefix=""), "eval-emulator-0a1b2c3d")


def test_delete_run_topics_failure_is_warning(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    import pipeline.kafka_admin as kafka_admin
    from kafka.errors import KafkaTimeoutError

    from pipeline.settings import KafkaSettings

    def unavailable(**kwargs):  # type: ignore[no-untyped-def]
        raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9']")

    monkeypatch.setattr(kafka_admin, "KafkaAdminClient", unavailable)

    with caplog.at_level("WARNING", logger=kafka_admin.__name__):
        deleted = kafka_admin.delete_run_topics(KafkaSettings(topic_prefix="eval-0a1b2c3d."), "eval-nab-0a1b2c3d")

    assert deleted == []
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert "group=eval-nab-0a1b2c3d" in record.getMessage()
    assert "prefix=eval-0a1b2c3d." in record.getMessage()
