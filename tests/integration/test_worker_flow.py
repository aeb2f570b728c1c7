"""End to end on the real services: emulator → Kafka → Faust worker → InfluxDB."""

from __future__ import annotations

import subprocess
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from emulators.cluster import ClusterEmulator
from emulators.publisher import KafkaPublisher
from emulators.run import run_emulation
from emulators.topology import Topology
from pipeline import deadletter, topics
from pipeline.settings import Settings
from pipeline.sinks import influxql
from tests.factories import gpu_message
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SAMPLES = 10
MEASUREMENT_FIELDS = {
    topics.GPU: ("gpu", "DCGM_FI_DEV_GPU_TEMP"),
    topics.COOLING: ("cooling", "FlowLitersPerMinute"),
    topics.DPU: ("dpu", "link_up"),
    topics.POWER: ("power", "PowerWatts"),
    topics.JOB_PROGRESS: ("job_progress", "step"),
}


def expected_points(topology: Topology, seed: int, samples: int) -> Counter[str]:
    """Count the points a run should write, by running the same seeded emulator offline."""
    emulator = ClusterEmulator(topology, seed=seed)
    counts: Counter[str] = Counter()
    for index in range(samples):
        for record in emulator.sample(START + timedelta(seconds=index)):
            value = record.value
            if record.topic == topics.GPU:
                counts["gpu"] += len(value["gpus"])
            elif record.topic == topics.DPU:
                counts["dpu"] += len(value["ports"])
            elif record.topic == topics.POWER:
                counts["power"] += 1
                counts["power_supply"] += len(value["power_supplies"])
            elif record.topic in MEASUREMENT_FIELDS:
                counts[MEASUREMENT_FIELDS[record.topic][0]] += 1
    return counts


RAW = "\"resolution\" = 'raw'"
ROLLUP = "\"resolution\" = '10s'"


def count_points(settings: Settings) -> Counter[str]:
    counts: Counter[str] = Counter()
    for measurement, field in [*MEASUREMENT_FIELDS.values(), ("power_supply", "health")]:
        where = "" if measurement == "job_progress" else RAW
        counts[measurement] = influxql.count(settings.influxdb, measurement, field, where)
    return counts


def tag_values(settings: Settings, measurement: str, key: str) -> set[str]:
    series = influxql.query(settings.influxdb, f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"')
    return {value for _, value in series[0]["values"]} if series else set()


def test_emulator_run_lands_in_influxdb(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    topology = Topology()
    expected = expected_points(topology, seed=3, samples=SAMPLES)

    run_emulation(settings.kafka, topology, seed=3, samples=SAMPLES, start=START)

    counts = wait_for(
        lambda: (c := count_points(settings)) == expected and c,
        timeout_seconds=120, what=f"points {dict(expected)}", worker=worker, log=tmp_path / "worker.log",
    )
    assert counts["gpu"] == SAMPLES * topology.gpu_count

    # Every GPU series gets one 10 s rollup of the 10 samples, once the idle flush closes the window.
    rollups = wait_for(
        lambda: influxql.query(settings.influxdb, f'SELECT "samples", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_TEMP_min", "DCGM_FI_DEV_GPU_TEMP_max" FROM "gpu" WHERE {ROLLUP} GROUP BY "node", "gpu"'),
        timeout_seconds=60, what="GPU rollups", worker=worker, log=tmp_path / "worker.log",
    )
    assert len(rollups) == topology.gpu_count
    raw = influxql.query(settings.influxdb, f'SELECT mean("DCGM_FI_DEV_GPU_TEMP"), min("DCGM_FI_DEV_GPU_TEMP"), max("DCGM_FI_DEV_GPU_TEMP") FROM "gpu" WHERE {RAW} GROUP BY "node", "gpu"')
    raw_by_series = {(series["tags"]["node"], series["tags"]["gpu"]): series["values"][0][1:] for series in raw}
    for series in rollups:
        _, samples, mean, minimum, maximum = series["values"][0]
        expected_mean, expected_min, expected_max = raw_by_series[(series["tags"]["node"], series["tags"]["gpu"])]
        assert samples == SAMPLES
        assert mean == pytest.approx(expected_mean)
        assert minimum == pytest.approx(expected_min)
        assert maximum == pytest.approx(expected_max)
    assert counts["cooling"] == SAMPLES * topology.racks
    assert counts["dpu"] == SAMPLES * topology.node_count * topology.ports_per_dpu
    assert tag_values(settings, "gpu", "node") == set(topology.node_names)
    assert tag_values(settings, "gpu", "rack") == set(topology.rack_names)
    assert tag_values(settings, "gpu", "gpu") == {str(index) for index in range(topology.gpus_per_node)}
    assert tag_values(settings, "cooling", "cdu") == {f"{rack}-cdu0" for rack in topology.rack_names}

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5).read().decode()
    assert f'qianliyan_messages_processed_total{{topic="{topics.GPU}"}} {float(SAMPLES * topology.node_count)}' in metrics
    assert "qianliyan_influxdb_write_latency_seconds_count" in metrics
    assert 'qianliyan_consumer_lag{partition="0",topic="' in metrics
    wait_for(
        lambda: influxql.count(settings.influxdb, "pipeline_stats", "messages_processed") > 0,
        timeout_seconds=30, what="a pipeline_stats point", worker=worker, log=tmp_path / "worker.log",
    )

    # A replay of the same seed and start, plus one more sample, overwrites instead of duplicating.
    run_emulation(settings.kafka, topology, seed=3, samples=SAMPLES + 1, start=START)
    wait_for(
        lambda: influxql.count(settings.influxdb, "gpu", "DCGM_FI_DEV_GPU_TEMP", RAW) >= (SAMPLES + 1) * topology.gpu_count,
        timeout_seconds=120, what="the replayed run", worker=worker, log=tmp_path / "worker.log",
    )
    assert influxql.count(settings.influxdb, "gpu", "DCGM_FI_DEV_GPU_TEMP", RAW) == (SAMPLES + 1) * topology.gpu_count
    # The replayed window that was already written keeps its rollup of the first run.
    wait_for(
        lambda: influxql.count(settings.influxdb, "gpu", "samples", ROLLUP) == 2 * topology.gpu_count,
        timeout_seconds=60, what="the rollup of the eleventh sample", worker=worker, log=tmp_path / "worker.log",
    )
    first_window = influxql.query(settings.influxdb, f'SELECT sum("samples") FROM "gpu" WHERE {ROLLUP} AND time < \'2026-01-01T00:00:10Z\'')
    assert first_window[0]["values"][0][1] == SAMPLES * topology.gpu_count


def bad_messages() -> dict[str, tuple[bytes, str]]:
    wrong_type = gpu_message()
    wrong_type["gpus"][0]["DCGM_FI_DEV_GPU_TEMP"] = "hot"
    missing = gpu_message()
    del missing["node"]
    return {
        "malformed": (b'{"schema_version": 1, "time": ', "invalid JSON"),
        "truncated": (orjson.dumps(gpu_message())[:-7], "invalid JSON"),
        "wrong_type": (orjson.dumps(wrong_type), "gpus.0.DCGM_FI_DEV_GPU_TEMP"),
        "missing_field": (orjson.dumps(missing), "node: Field required"),
        "nan": (orjson.dumps(gpu_message()).replace(b"61.5", b"NaN"), "invalid JSON"),
        "nan_string": (orjson.dumps(gpu_message()).replace(b"61.5", b'"NaN"'), "finite number"),
        "infinity": (orjson.dumps(gpu_message()).replace(b"61.5", b"1e999"), "invalid JSON"),
        "unknown_version": (orjson.dumps(gpu_message(schema_version=99)), "unsupported schema_version 99"),
        "oversized": (orjson.dumps(gpu_message(padding="x" * 300_000)), "exceeds the limit of 262144 bytes"),
    }


def test_bad_input_goes_to_deadletter(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    bad = bad_messages()
    publisher = KafkaPublisher(settings.kafka)
    for name, (raw, _) in bad.items():
        publisher.send_raw(topics.GPU, f"bad-{name}", raw)
    publisher.send_raw(topics.GPU, "good-node", orjson.dumps(gpu_message(node="good-node")))
    publisher.close()

    consumer = KafkaConsumer(
        settings.kafka.topic(topics.DEADLETTER),
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1_000,
        max_partition_fetch_bytes=2 * 1024 * 1024,
    )
    received: dict[str, tuple[bytes, dict[str, bytes]]] = {}

    def collect() -> bool:
        for record in consumer:
            received[record.key.decode()] = (record.value, dict(record.headers))
        return len(received) >= len(bad)

    try:
        wait_for(collect, timeout_seconds=120, what="dead-lettered messages", worker=worker, log=tmp_path / "worker.log")
    finally:
        consumer.close()

    for name, (raw, reason) in bad.items():
        value, headers = received[f"bad-{name}"]
        assert value == raw, name
        assert reason in headers[deadletter.HEADER_REASON].decode(), name
        assert headers[deadletter.HEADER_SOURCE_TOPIC].decode() == settings.kafka.topic(topics.GPU)
        assert headers[deadletter.HEADER_ERROR_CLASS] == b"InvalidMessageError"
        assert int(headers[deadletter.HEADER_SOURCE_OFFSET]) >= 0

    # The good message published after the bad ones is stored, so the worker kept going.
    wait_for(
        lambda: influxql.count(settings.influxdb, "gpu", "DCGM_FI_DEV_GPU_TEMP", "\"node\" = 'good-node' AND " + RAW) == 2,
        timeout_seconds=60, what="the good message in InfluxDB", worker=worker, log=tmp_path / "worker.log",
    )
    assert worker.poll() is None
