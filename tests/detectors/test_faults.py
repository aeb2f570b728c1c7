"""Known-answer tests of event-level scoring against injected faults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from detectors.anomaly import Anomaly
from detectors.evaluation.faults import fault_windows, matches_place, score_faults
from pipeline.schemas import FaultTruth

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def fault(fault_id: str, kind: str, start: float, end: float | None, scope: str = "node", entity: str = "n1", gpu: int | None = None) -> FaultTruth:
    return FaultTruth(fault_id=fault_id, kind=kind, scope=scope, entity=entity, gpu=gpu, start=at(start), end=None if end is None else at(end))


def anomaly(seconds: float, entity: str = "n1", gpu: int | None = None, fault_class: str | None = None, **fields: Any) -> Anomaly:
    return Anomaly(
        time=at(seconds), entity=entity, entity_kind="gpu" if gpu is not None else "node", gpu=gpu,
        detector="test", score=1.0, severity="warning", fault_class=fault_class, **fields,
    )


def test_fault_windows_merge_start_and_end() -> None:
    windows = fault_windows([fault("f1", "xid_79", 10, None), fault("f1", "xid_79", 10, 50)])

    assert len(windows) == 1
    assert windows[0].end == at(50)


def test_score_faults_known_answer() -> None:
    truth = [
        fault("f1", "xid_79", 100, 200, entity="n1"),
        fault("f2", "xid_79", 300, 400, entity="n2"),
        fault("f3", "cdu_pump_failure", 500, 600, scope="rack", entity="r1"),
    ]
    anomalies = [
        anomaly(105, "n1"),  # detects f1 after 5 s
        anomaly(110, "n1"),  # same alarm
        anomaly(520, "n9", rack="r1"),  # detects f3 after 20 s through the rack
        anomaly(800, "n5", fault_class="xid_79"),  # false alarm named xid_79
        anomaly(900, "n6"),  # false alarm without a kind
    ]

    rows = {row.kind: row for row in score_faults(truth, anomalies, grace_seconds=30)}

    assert (rows["xid_79"].faults, rows["xid_79"].detected, rows["xid_79"].false_alarms) == (2, 1, 1)
    assert rows["xid_79"].recall == pytest.approx(0.5)
    assert rows["xid_79"].precision == pytest.approx(0.5)
    assert rows["xid_79"].detect_seconds_median == pytest.approx(5.0)
    assert rows["cdu_pump_failure"].recall == pytest.approx(1.0)
    assert rows["cdu_pump_failure"].detect_seconds_max == pytest.approx(20.0)
    assert (rows["all"].faults, rows["all"].detected, rows["all"].false_alarms) == (3, 2, 2)
    assert rows["all"].precision == pytest.approx(0.5)
    assert rows["all"].f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


@pytest.mark.parametrize(("seconds", "detected"), [(99, False), (100, True), (230, True), (231, False)])
def test_detection_window_boundary(seconds: float, detected: bool) -> None:
    rows = score_faults([fault("f1", "xid_79", 100, 200)], [anomaly(seconds)], grace_seconds=30)

    assert rows[-1].detected == int(detected)
    assert rows[-1].false_alarms == int(not detected)


def test_open_fault_runs_to_end_of_run() -> None:
    rows = score_faults([fault("f1", "xid_79", 100, None)], [anomaly(5000)], end_of_run=at(6000))

    assert rows[-1].detected == 1


def test_alarm_merge_gap() -> None:
    anomalies = [anomaly(1000), anomaly(1020), anomaly(1100)]

    rows = score_faults([], anomalies, merge_gap_seconds=30)

    assert rows[-1].false_alarms == 2


@pytest.mark.parametrize(
    ("scope", "entity", "gpu", "anomaly_fields", "expected"),
    [
        ("gpu", "n1", 3, {"entity": "n1", "gpu": 3}, True),
        ("gpu", "n1", 3, {"entity": "n1", "gpu": 2}, False),
        ("gpu", "n1", 3, {"entity": "n1"}, True),
        ("node", "n1", None, {"entity": "n1", "gpu": 5}, True),
        ("node", "n1", None, {"entity": "n2"}, False),
        ("rack", "r1", None, {"entity": "n7", "rack": "r1"}, True),
        ("cluster", "default", None, {"entity": "n7"}, True),
        ("job", "job-1", None, {"entity": "n3"}, True),
        ("job", "job-1", None, {"entity": "n4"}, False),
    ],
)
def test_matches_place_by_scope(scope: str, entity: str, gpu: int | None, anomaly_fields: dict[str, Any], expected: bool) -> None:
    window = fault_windows([fault("f", "k", 0, 10, scope=scope, entity=entity, gpu=gpu)])[0]
    found = anomaly(1, **anomaly_fields)

    assert matches_place(window, found, {"job-1": {"n3"}}) is expected


def job_anomaly(seconds: float, nodes: str, entity: str = "job-1") -> Anomaly:
    return Anomaly(
        time=at(seconds), entity=entity, entity_kind="job", detector="job.hang", score=1.0, severity="critical",
        fault_class="job_hang", evidence={"nodes": nodes},
    )


@pytest.mark.parametrize(
    ("nodes", "false_alarms"), [("n1,n2", 0), ("n2,n3", 1)], ids=["fault_on_job_node", "fault_elsewhere"]
)
def test_job_symptom_explained_by_fault_on_its_node(nodes: str, false_alarms: int) -> None:
    rows = score_faults([fault("f1", "gpu_hard_fault", 10, 70, scope="gpu", entity="n1", gpu=0)], [anomaly(10, gpu=0), job_anomaly(45, nodes)])

    total = rows[-1]
    assert (total.detected, total.false_alarms) == (1, false_alarms)


def test_job_symptom_is_not_a_detection() -> None:
    rows = score_faults([fault("f1", "host_fault", 10, 70)], [job_anomaly(40, "n1,n2")])

    assert (rows[-1].detected, rows[-1].false_alarms) == (0, 0)


def test_job_symptom_of_rack_fault_through_node_racks() -> None:
    truth = [fault("f1", "psu_failure", 10, 70, scope="rack", entity="r1")]
    anomalies = [anomaly(10, entity="n1", rack="r1"), job_anomaly(40, "n1,n2")]

    assert score_faults(truth, anomalies)[-1].false_alarms == 0


def test_switch_fault_matches_nodes_of_its_record() -> None:
    record = FaultTruth(fault_id="f1", kind="network_congestion", scope="switch", entity="leaf0", nodes=["n1", "n2"], start=at(10), end=at(70))

    rows = score_faults([record], [anomaly(20, entity="n2")])

    assert (rows[-1].detected, rows[-1].false_alarms) == (1, 0)


def test_node_anomaly_gets_rack_from_other_anomalies() -> None:
    truth = [fault("f1", "psu_failure", 10, 70, scope="rack", entity="r1")]
    straggler = Anomaly(time=at(30), entity="n2", entity_kind="node", detector="job.straggler", score=1.0, severity="warning")

    rows = score_faults(truth, [anomaly(10, entity="n2", gpu=0, rack="r1"), straggler])

    assert rows[-1].false_alarms == 0


def test_planned_maintenance_not_scored() -> None:
    truth = [fault("f1", "planned_maintenance", 10, 70)]

    rows = score_faults(truth, [anomaly(20)])

    assert [row.kind for row in rows] == ["all"]
    assert (rows[-1].faults, rows[-1].false_alarms) == (0, 1)


def test_named_when_an_anomaly_names_the_kind() -> None:
    truth = [fault("f1", "gpu_fell_off_bus", 10, 70, scope="gpu", entity="n1", gpu=0)]
    anomalies = [anomaly(10, gpu=0, fault_class="pcie_degradation"), anomaly(30, gpu=0, fault_class="gpu_fell_off_bus")]

    row = score_faults(truth, anomalies)[0]

    assert (row.detected, row.detect_seconds_median) == (1, 0.0)
    assert (row.named, row.name_seconds_median) == (1, 20.0)


def test_not_named_when_no_anomaly_names_the_kind() -> None:
    row = score_faults([fault("f1", "host_fault", 10, 70)], [anomaly(20, fault_class="source_silent")])[0]

    assert (row.detected, row.named, row.name_seconds_median) == (1, 0, None)
