"""Correlator: persistence, inhibition, escalation, resolution, stable ids and repeat offenders."""

from __future__ import annotations

import json

import pytest

from pipeline.incidents import ClusterMap, Correlator, CorrelatorSettings, IncidentUpdate
from tests.incidents.conftest import anomaly, at


def run(correlator: Correlator, anomalies: list) -> list[IncidentUpdate]:
    updates: list[IncidentUpdate] = []
    for item in anomalies:
        updates.extend(correlator.process(item))
    return updates


def opened(updates: list[IncidentUpdate]) -> list:
    return [update.incident for update in updates if update.kind == "opened"]


def pump_failure_stream() -> list:
    """Return a CDU pump failure on rack r000: a flow anomaly, then every GPU of the rack heating up."""
    stream = [anomaly(0, "r000", "cdu_pump_failure", entity_kind="rack", severity="critical", detector="rule.cdu_flow")]
    for second in range(10, 70, 5):
        for node in range(4):
            for gpu in range(8):
                stream.append(anomaly(second, f"r000-n{node:02d}", "gpu_thermal", gpu=gpu, detector="rule.gpu_temp"))
    return stream


def test_pump_failure_one_rack_incident(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    stream = pump_failure_stream()

    updates = run(correlator, stream)

    incidents = opened(updates)
    assert len(incidents) == 1
    assert incidents[0].scope == "rack"
    assert incidents[0].entity == "r000"
    assert incidents[0].fault_class == "cdu_pump_failure"
    assert correlator.firing[0].suppressed_count == len(stream) - 1


def test_pump_failure_gpus_first_superseded(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=2))
    gpu_heat = [anomaly(second, "r000-n00", "gpu_thermal", gpu=0) for second in (0, 1)]
    flow = anomaly(5, "r000", "cdu_pump_failure", entity_kind="rack", severity="critical")

    first = run(correlator, gpu_heat)
    second = correlator.process(flow)

    assert [incident.scope for incident in opened(first)] == ["gpu"]
    assert [update.kind for update in second] == ["resolved", "opened"]
    assert second[0].incident.resolution == "inhibited"
    assert second[0].incident.inhibited_by == second[1].incident.incident_id
    assert second[1].incident.suppressed_count == 2


def test_thermal_spread_escalates_to_rack(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    stream = [anomaly(1, f"r001-n0{node}", "gpu_thermal", gpu=2) for node in range(4)]

    updates = run(correlator, stream)

    incidents = opened(updates)
    assert [(incident.scope, incident.entity, incident.fault_class) for incident in incidents] == [("rack", "r001", "cooling_degraded")]
    assert incidents[0].members == ("r001-n00/2", "r001-n01/2", "r001-n02/2", "r001-n03/2")


def test_persistence_below_count_opens_nothing(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=3))

    updates = run(correlator, [anomaly(second, "r000-n01", "pcie_degradation", gpu=1) for second in (0, 5)])

    assert updates == []
    assert correlator.firing == []


def test_persistence_at_count_opens(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=3))

    updates = run(correlator, [anomaly(second, "r000-n01", "pcie_degradation", gpu=1) for second in (0, 5, 10)])

    incidents = opened(updates)
    assert len(incidents) == 1
    assert incidents[0].anomaly_count == 3
    assert incidents[0].started_at == at(0)


def test_persistence_outside_window_opens_nothing(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=3, persistence_window_seconds=30))

    updates = run(correlator, [anomaly(second, "r000-n01", "pcie_degradation", gpu=1) for second in (0, 20, 40)])

    assert updates == []


def test_critical_immediate_class_opens_at_once(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)

    updates = correlator.process(anomaly(0, "r000-n02", "xid_79", gpu=3, severity="critical"))

    incidents = opened(updates)
    assert len(incidents) == 1
    assert (incidents[0].scope, incidents[0].entity, incidents[0].gpu) == ("gpu", "r000-n02", 3)
    assert incidents[0].confidence == "high"


def test_alias_maps_to_class(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)

    updates = correlator.process(anomaly(0, "r000-n02", "xid_48", gpu=3, severity="critical"))

    assert opened(updates)[0].fault_class == "ecc_uncorrectable"


def test_secondary_xid_follows_primary(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))
    stream = [
        anomaly(0, "r000-n02", "xid_48", gpu=3, severity="critical"),
        anomaly(1, "r000-n02", "xid_45", gpu=3),
        anomaly(2, "r000-n02", "xid_63", gpu=5),
    ]

    updates = run(correlator, stream)

    assert [incident.fault_class for incident in opened(updates)] == ["ecc_uncorrectable"]
    assert correlator.firing[0].suppressed_count == 2


def test_secondary_xid_before_primary_absorbed(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    stream = [anomaly(0, "r000-n02", "xid_43", gpu=3), anomaly(1, "r000-n02", "xid_13", gpu=3, severity="critical")]

    updates = run(correlator, stream)

    assert [incident.fault_class for incident in opened(updates)] == ["xid_app_error"]
    assert correlator.firing[0].suppressed_count == 1


def test_switch_failure_inhibits_link_alerts(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))
    stream = [anomaly(0, "r000-n00", "link_flap"), anomaly(1, "r000-n01", "link_flap")]
    stream += [anomaly(2 + node, f"r000-n0{node}", "link_flap") for node in range(4)]

    updates = run(correlator, stream)

    kinds = [(update.kind, update.incident.fault_class) for update in updates]
    assert kinds == [("opened", "link_flap"), ("resolved", "link_flap"), ("opened", "switch_failure")]
    assert correlator.firing[0].entity == "leaf000"
    assert correlator.firing[0].suppressed_count == 5


def test_peer_timeouts_name_bad_rank(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))
    peers = [node for node in cluster_map.nodes_of_job("job-0") if node != "r000-n03"]

    updates = run(correlator, [anomaly(1, node, "peer_timeout") for node in peers])

    incidents = opened(updates)
    assert [(incident.scope, incident.entity) for incident in incidents] == [("job", "job-0")]
    assert correlator.firing[0].suspects == ("r000-n03",)
    assert correlator.firing[0].anomaly_count == len(peers)


def test_bad_rank_inhibits_peer_timeouts(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))
    stream = [anomaly(0, "r000-n03", "xid_79", gpu=0, severity="critical")]
    stream += [anomaly(1, node, "peer_timeout") for node in cluster_map.nodes_of_job("job-0") if node != "r000-n03"]

    updates = run(correlator, stream)

    assert [incident.fault_class for incident in opened(updates)] == ["xid_79"]
    assert correlator.firing[0].suppressed_count == 6


def test_duplicates_update_one_incident(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    stream = [anomaly(second, "r000-n01", "xid_79", gpu=1, severity="critical") for second in range(5)]

    updates = run(correlator, stream)

    assert [update.kind for update in updates] == ["opened"]
    assert correlator.firing[0].anomaly_count == 5


def test_new_detector_emits_update(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))
    stream = [anomaly(0, "r000-n01", "straggler"), anomaly(1, "r000-n01", "straggler", detector="peers.distance")]

    updates = run(correlator, stream)

    assert [update.kind for update in updates] == ["opened", "updated"]
    assert updates[1].incident.confidence == "high"


def test_resolve_after_silence(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(resolve_after_seconds=60))
    correlator.process(anomaly(0, "r000-n01", "xid_79", gpu=1, severity="critical"))

    early = correlator.tick(at(59))
    late = correlator.tick(at(61))

    assert early == []
    assert [update.kind for update in late] == ["resolved"]
    assert late[0].incident.resolved_at == at(60)
    assert late[0].incident.resolution == "cleared"
    assert correlator.firing == []


def test_suppressed_anomalies_keep_source_firing(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(resolve_after_seconds=60))
    correlator.process(anomaly(0, "r000", "cdu_pump_failure", entity_kind="rack", severity="critical"))
    correlator.process(anomaly(50, "r000-n00", "gpu_thermal", gpu=0))

    updates = correlator.tick(at(100))

    assert updates == []
    assert correlator.firing[0].updated_at == at(50)


def test_anomaly_after_resolve_opens_new_id(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(resolve_after_seconds=60))
    first = correlator.process(anomaly(0, "r000-n01", "xid_79", gpu=1, severity="critical"))

    second = correlator.process(anomaly(200, "r000-n01", "xid_79", gpu=1, severity="critical"))

    assert [update.kind for update in second] == ["resolved", "opened"]
    assert second[1].incident.incident_id != first[0].incident.incident_id


def test_replay_gives_same_ids(cluster_map: ClusterMap) -> None:
    stream = pump_failure_stream() + [anomaly(300, "r001-n01", "xid_79", gpu=1, severity="critical")]

    first = run(Correlator(cluster_map), stream)
    second = run(Correlator(cluster_map), stream)

    assert [update.incident.incident_id for update in first] == [update.incident.incident_id for update in second]
    # The pump incident came from rule detectors, so it stays open past 300 s: two openings.
    assert [update.kind for update in first] == ["opened", "opened"]


def test_snapshot_restore_continues(cluster_map: ClusterMap) -> None:
    stream = [anomaly(second, "r000-n01", "pcie_degradation", gpu=1) for second in (0, 5, 10, 15)]
    reference = run(Correlator(cluster_map), stream)
    correlator = Correlator(cluster_map)
    run(correlator, stream[:2])

    restored = Correlator(cluster_map)
    restored.restore(correlator.snapshot())
    rest = run(restored, stream[2:])

    assert rest == reference[-len(rest):]
    assert len(rest) == 1


def test_snapshot_is_json(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    run(correlator, pump_failure_stream()[:40] + [anomaly(1, "r001-n00", "pcie_degradation", gpu=0)])

    text = json.dumps(correlator.snapshot())

    restored = Correlator(cluster_map)
    restored.restore(json.loads(text))
    assert restored.snapshot() == correlator.snapshot()


def test_repeat_offender_across_incidents(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(resolve_after_seconds=60, repeat_offender_threshold=2))

    first = opened(correlator.process(anomaly(0, "r000-n01", "xid_79", gpu=1, severity="critical")))
    second = opened(correlator.process(anomaly(500, "r000-n01", "ecc_uncorrectable", gpu=4, severity="critical")))

    assert (first[0].offender_count, first[0].repeat_offender) == (1, False)
    assert (second[0].offender_count, second[0].repeat_offender) == (2, True)


def test_repeat_offender_forgets_after_window(cluster_map: ClusterMap) -> None:
    settings = CorrelatorSettings(resolve_after_seconds=60, repeat_offender_window_seconds=3600)
    correlator = Correlator(cluster_map, settings)

    correlator.process(anomaly(0, "r000-n01", "xid_79", gpu=1, severity="critical"))
    later = opened(correlator.process(anomaly(7200, "r000-n01", "xid_79", gpu=1, severity="critical")))

    assert later[0].offender_count == 1
    assert later[0].repeat_offender is False


def test_unknown_class_keeps_name(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))

    updates = correlator.process(anomaly(0, "machine-1", "mystery", entity_kind="series"))

    assert (opened(updates)[0].scope, opened(updates)[0].fault_class) == ("series", "mystery")


def test_missing_class_is_unclassified(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map, CorrelatorSettings(persistence_count=1))

    updates = correlator.process(anomaly(0, "r000-n00", None))

    assert opened(updates)[0].fault_class == "unclassified"


def test_single_rule_anomaly_opens(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)

    updates = correlator.process(anomaly(0, "r000-n01", "pcie_degradation", gpu=1, detector="rule.pcie"))

    assert [update.kind for update in updates] == ["opened"]


def test_rule_incident_outlives_default_silence(cluster_map: ClusterMap) -> None:
    settings = CorrelatorSettings(resolve_after_seconds=60, rule_resolve_after_seconds=600)
    correlator = Correlator(cluster_map, settings)
    correlator.process(anomaly(0, "r000-n01", "pcie_degradation", gpu=1, detector="rule.pcie"))

    assert correlator.tick(at(599)) == []
    assert [update.kind for update in correlator.tick(at(600))] == ["resolved"]


def test_pump_failure_inhibits_low_pressure(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    pump = anomaly(0, "r000", "cdu_pump_failure", entity_kind="rack", severity="critical", detector="rule.cooling")
    pressure = anomaly(1, "r000", "coolant_pressure_low", entity_kind="rack", detector="rule.cooling")

    opened = correlator.process(pump) + correlator.process(pressure)

    assert [update.incident.fault_class for update in opened] == ["cdu_pump_failure"]
    assert correlator.firing[0].suppressed_count == 1


def test_info_anomaly_opens_nothing(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)

    updates = [update for second in range(5) for update in correlator.process(anomaly(second, "r000-n01", "xid_79", gpu=1, severity="info", detector="rule.xid"))]

    assert updates == []


def test_power_cap_events_grouped_by_rack(cluster_map: ClusterMap) -> None:
    correlator = Correlator(cluster_map)
    stream = [anomaly(0, f"r000-n0{node}", "rack_power_cap", gpu=gpu, severity="warning", detector="rule.clocks") for node in range(2) for gpu in range(8)]

    opened = [update for update in run(correlator, stream) if update.kind == "opened"]

    assert [(update.incident.scope, update.incident.entity) for update in opened] == [("rack", "r000")]


@pytest.mark.parametrize(
    ("detected", "incident_class"),
    [("gpu_hard_fault", "gsp_hang"), ("hbm_uncorrectable", "ecc_uncorrectable"), ("gpu_sram_uncorrectable", "ecc_uncorrectable"), ("software_crash", "xid_app_error")],
)
def test_detector_classes_map_to_policy(cluster_map: ClusterMap, detected: str, incident_class: str) -> None:
    correlator = Correlator(cluster_map)

    updates = correlator.process(anomaly(0, "r000-n01", detected, gpu=1, severity="critical", detector="rule.xid"))

    assert [update.incident.fault_class for update in updates] == [incident_class]
