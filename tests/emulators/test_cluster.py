from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from emulators.cluster import ClusterEmulator
from emulators.faults.base import Fault
from emulators.faults.injector import FaultInjector
from emulators.faults.random_process import RandomFaultConfig, RandomFaultProcess
from emulators.faults.truth import TruthLog
from emulators.job import JobConfig
from emulators.messages import JOB_GOODPUT, JobGoodput
from emulators.topology import Topology
from pipeline import codec, topics
from pipeline.schemas import FaultTruth
from tests.emulators.harness import SMALL, fault, run

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def stream(seed: int, samples: int = 5, random_faults: bool = False) -> list[bytes]:
    injector = FaultInjector(SMALL, [RandomFaultProcess(SMALL, RandomFaultConfig(rate_multiplier=50_000), seed)] if random_faults else [])
    emulator = ClusterEmulator(SMALL, seed=seed, injector=injector)
    out = []
    for index in range(samples):
        for record in emulator.sample(START + timedelta(seconds=index)):
            out.append(orjson.dumps([record.topic, record.key, record.value]))
    return out


def test_same_seed_same_stream() -> None:
    assert stream(7) == stream(7)


def test_same_seed_same_stream_with_faults() -> None:
    first = stream(7, samples=300, random_faults=True)
    assert any(b"faults.truth" in line for line in first)
    assert first == stream(7, samples=300, random_faults=True)


def test_other_seed_other_stream() -> None:
    assert stream(7) != stream(8)


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


def test_fault_and_goodput_records_valid() -> None:
    result = run([fault(kind, 10, node=1, gpu=0) for kind in ("gpu_fell_off_bus",)], seconds=40, job=JobConfig(goodput_interval_seconds=10.0))
    truth = result.all_values(topics.FAULTS_TRUTH)
    goodput = result.all_values(JOB_GOODPUT)
    for value in result.all_values(topics.HARDWARE_EVENTS):
        codec.decode(topics.HARDWARE_EVENTS, orjson.dumps(value), 256 * 1024)
    assert [FaultTruth.model_validate(value).kind for value in truth] == ["gpu_fell_off_bus"]
    assert len(goodput) == 5
    assert JobGoodput.model_validate(goodput[-1]).state == "down"


def test_truth_closes_at_end() -> None:
    result = run([fault("link_flap", 10, 5, node=1)], seconds=30)
    truth = [FaultTruth.model_validate(value) for value in result.all_values(topics.FAULTS_TRUTH)]
    assert [item.end for item in truth] == [None, START.replace(hour=12) + timedelta(seconds=15)]


def test_truth_log_writes_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "truth" / "faults.jsonl"
    with TruthLog(path) as log:
        injector = FaultInjector(SMALL, truth_log=log)
        injector.add(Fault("f-1", "psu_failure", START + timedelta(seconds=2), 3.0, rack=1))
        emulator = ClusterEmulator(SMALL, injector=injector)
        for second in range(8):
            emulator.sample(START + timedelta(seconds=second))
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["fault_id"] for line in lines] == ["f-1", "f-1"]
    assert "end" not in lines[0]
    assert lines[1]["end"] == "2026-01-01T00:00:05Z"


def test_gpu_keys_are_nodes() -> None:
    emulator = ClusterEmulator(Topology(), seed=0)

    keys = {record.key for record in emulator.sample(START) if record.topic == topics.GPU}

    assert keys == set(Topology().node_names)


def test_spare_node_idles() -> None:
    result = run(seconds=30)
    spare = result.gpu(29, "r001-n01", 0)
    busy = result.gpu(29, "r001-n00", 0)
    assert spare is not None and busy is not None
    assert spare["DCGM_FI_DEV_GPU_UTIL"] == 0
    assert spare["DCGM_FI_DEV_POWER_USAGE"] < 120
    assert busy["DCGM_FI_DEV_POWER_USAGE"] > 450
    assert busy["DCGM_FI_DEV_GPU_TEMP"] > spare["DCGM_FI_DEV_GPU_TEMP"] + 10


def test_cooling_return_follows_heat() -> None:
    result = run(seconds=120)
    cooling = result.rack(topics.COOLING, 119, "r000")
    power = result.rack(topics.POWER, 119, "r000")
    rise = cooling["ReturnTemperatureCelsius"] - cooling["SupplyTemperatureCelsius"]
    expected = power["PowerWatts"] / 1000 / (cooling["FlowLitersPerMinute"] / 60 * 4.18)
    assert rise == pytest.approx(expected, rel=0.1)


def test_pdu_sums_nodes() -> None:
    result = run(seconds=10)
    gpu_watts = sum(
        sample["DCGM_FI_DEV_POWER_USAGE"] for message in result.values(topics.GPU, 9) if message["rack"] == "r000" for sample in message["gpus"]
    )
    power = result.rack(topics.POWER, 9, "r000")
    assert gpu_watts < power["PowerWatts"] < gpu_watts + 2 * 1800 + 1


def test_dpu_traffic_follows_collectives() -> None:
    result = run(seconds=20)
    busy = result.port(19, "r000-n00")
    idle = result.port(19, "r001-n01")
    assert busy is not None and idle is not None
    assert busy["tx_bytes_phy"] > 0
    assert idle["tx_bytes_phy"] == 0


def test_diurnal_supply_swings() -> None:
    warm = ClusterEmulator(SMALL)
    cool = ClusterEmulator(SMALL)
    warm_value = [r.value for r in warm.sample(START.replace(hour=15)) if r.topic == topics.COOLING][0]
    cool_value = [r.value for r in cool.sample(START.replace(hour=3)) if r.topic == topics.COOLING][0]
    assert warm_value["SupplyTemperatureCelsius"] - cool_value["SupplyTemperatureCelsius"] == pytest.approx(6.0, abs=0.6)


def test_sample_rejects_time_going_back() -> None:
    emulator = ClusterEmulator(SMALL)
    emulator.sample(START)
    with pytest.raises(ValueError, match="event time must increase"):
        emulator.sample(START)


def test_large_topology_one_sample() -> None:
    topology = Topology(racks=125, nodes_per_rack=10, nodes_per_leaf_switch=16, spare_nodes=16)
    records = ClusterEmulator(topology).sample(START)
    per_topic = Counter(record.topic for record in records)
    assert per_topic[topics.GPU] == 1_250
    assert per_topic[topics.COOLING] == 125


def test_topology_rejects_zero_racks() -> None:
    with pytest.raises(ValueError, match="racks must be at least 1"):
        Topology(racks=0)
