from __future__ import annotations

from pathlib import Path

import pytest

from emulators.topology import Topology, load_topology
from tests.emulators.harness import PROJECT_ROOT

TOPOLOGIES = PROJECT_ROOT / "emulators" / "topologies"


@pytest.mark.parametrize(("name", "gpus", "job_nodes"), [("small.yaml", 64, 7), ("large.yaml", 10_000, 1_234)])
def test_topology_file_loads(name: str, gpus: int, job_nodes: int) -> None:
    topology = load_topology(TOPOLOGIES / name)
    assert topology.gpu_count == gpus
    assert len(topology.job_node_indices) == job_nodes


def test_topology_names_switches_and_spares() -> None:
    topology = Topology(racks=2, nodes_per_rack=3, nodes_per_leaf_switch=4, spare_nodes=2)
    assert topology.switch_names == ("leaf000", "leaf001")
    assert topology.nodes_of_switch(1) == [4, 5]
    assert topology.switch_of(3) == "leaf000"
    assert topology.spare_node_indices == [4, 5]
    assert topology.node_index("r001-n02") == 5


def test_topology_unknown_node_names_range() -> None:
    with pytest.raises(ValueError, match=r"unknown node 'r009-n00'; this topology has 8: r000-n00"):
        Topology().node_index("r009-n00")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"racks": 0}, "racks must be at least 1"),
        ({"gpus_per_node": 65}, "gpus_per_node must be at most 64"),
        ({"nodes_per_leaf_switch": 0}, "nodes_per_leaf_switch must be at least 1"),
        ({"spare_nodes": 8}, "spare_nodes must be between 0 and 7"),
    ],
)
def test_topology_rejects_invalid(fields: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Topology(**fields)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("racks: [1\n", "invalid YAML in topology file"),
        ("- racks\n", "must contain a mapping"),
        ("rack: 2\n", r"unknown key\(s\) \['rack'\]"),
        ("racks: two\n", "racks must be int, got 'two'"),
        ("racks: 0\n", "racks must be at least 1"),
    ],
)
def test_load_topology_rejects_bad_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_topology(path)
