"""Correlator settings validation and the cluster map."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emulators.topology import Topology
from pipeline.incidents import ClusterMap, CorrelatorSettings, FaultClassRule
from pipeline.incidents.rules import EscalationRule, InhibitRule


def test_settings_defaults_valid() -> None:
    lookup = CorrelatorSettings().class_rules()

    assert lookup["xid_48"].name == "ecc_uncorrectable"
    assert lookup["cdu_pump_failure"].scope == "rack"


def test_settings_duplicate_alias_rejected() -> None:
    classes = (FaultClassRule(name="a", scope="gpu", aliases=("x",)), FaultClassRule(name="b", scope="gpu", aliases=("x",)))

    with pytest.raises(ValidationError, match="'x' appears twice"):
        CorrelatorSettings(classes=classes, inhibit_rules=(), escalation_rules=())


def test_settings_unknown_rule_class_rejected() -> None:
    rule = InhibitRule(source_classes=("xid_79",), target_classes=("no_such_class",), domain="node")

    with pytest.raises(ValidationError, match="no_such_class"):
        CorrelatorSettings(inhibit_rules=(rule,))


def test_settings_escalation_scope_mismatch_rejected() -> None:
    rule = EscalationRule(source_classes=("gpu_thermal",), target_class="xid_79", domain="rack", min_entities=2, window_seconds=10)

    with pytest.raises(ValidationError, match="scope 'gpu'"):
        CorrelatorSettings(escalation_rules=(rule,))


def test_cluster_map_from_topology() -> None:
    topology = Topology(racks=2, nodes_per_rack=4, nodes_per_leaf_switch=2, spare_nodes=1)

    cluster_map = ClusterMap.from_topology(topology, job="train")

    assert cluster_map.rack_of("r001-n00") == "r001"
    assert cluster_map.switch_of("r000-n03") == "leaf001"
    assert cluster_map.nodes_of_job("train") == topology.node_names[:7]
    assert cluster_map.spares == ("r001-n03",)
    assert cluster_map.jobs_of_node("r001-n03") == ()
    assert cluster_map.nodes_of_switch("leaf000") == ("r000-n00", "r000-n01")


def test_cluster_map_unknown_job_node_rejected() -> None:
    with pytest.raises(ValueError, match="no rack"):
        ClusterMap(node_rack={"a": "r0"}, job_nodes={"j": ("a", "b")})
