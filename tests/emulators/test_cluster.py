from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson

from emulators.cluster import ClusterEmulator
from emulators.topology import Topology
from pipeline import codec, topics

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def run(seed: int, samples: int = 5) -> list[bytes]:
    emulator = ClusterEmulator(Topology(), seed=seed)
    out = []
    for index in range(samples):
        for record in emulator.sample(START + timedelta(seconds=index)):
            out.append(orjson.dumps([record.topic, record.key, record.value]))
    return out


def test_same_seed_same_stream() -> None:
    assert run(7) == run(7)


def test_other_seed_other_stream() -> None:
    assert run(7) != run(8)


def test_records_valid_and_counted() -> None:
    topology = Topology(racks=2, nodes_per_rack=4, gpus_per_node=8)
    emulator = ClusterEmulator(topology, seed=1)
    per_topic: Counter[str] = Counter()

    for index in range(6):
        for record in emulator.sample(START + timedelta(seconds=index)):
            codec.decode(record.topic, orjson.dumps(record.value), 256 * 1024)
            per_topic[record.topic] += 1

    assert per_topic[topics.GPU] == 6 * 8
    assert per_topic[topics.DPU] == 6 * 8
    assert per_topic[topics.COOLING] == 6 * 2
    assert per_topic[topics.POWER] == 6 * 2
    assert per_topic[topics.JOB_PROGRESS] % 8 == 0
    assert per_topic[topics.JOB_PROGRESS] >= 8


def test_gpu_keys_are_nodes() -> None:
    emulator = ClusterEmulator(Topology(), seed=0)

    keys = {record.key for record in emulator.sample(START) if record.topic == topics.GPU}

    assert keys == set(Topology().node_names)


def test_topology_rejects_zero_racks() -> None:
    import pytest

    with pytest.raises(ValueError, match="racks must be at least 1"):
        Topology(racks=0)
