"""The emulator's faults, ground truth and controller through the real Kafka broker."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer

from emulators.action_source import KafkaActionSource
from emulators.controller import Controller, result_record
from emulators.faults.catalog import CATALOG
from emulators.faults.scenario import Scenario, ScenarioFault, ScenarioJob
from emulators.messages import ACTION_RESULTS, ACTIONS, JOB_GOODPUT
from emulators.publisher import KafkaPublisher
from emulators.run import build_emulator, run_emulation
from emulators.topology import Topology
from pipeline import topics
from pipeline.kafka_admin import ensure_topics
from pipeline.policy.models import ActionRequest
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

TOPOLOGY = Topology(racks=2, nodes_per_rack=2, gpus_per_node=2, nodes_per_leaf_switch=2, spare_nodes=1)
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
PLACES = {"gpu": {"node": "r000-n01", "gpu": 1}, "node": {"node": "r000-n01"}, "rack": {"rack": "r000"}, "switch": {"switch": "leaf000"}}


def every_kind() -> Scenario:
    faults = [
        ScenarioFault(kind=name, start=5 + 10 * index, duration=8, **PLACES.get(kind.scope, {}))
        for index, (name, kind) in enumerate(sorted(CATALOG.items()))
    ]
    return Scenario(faults=faults, job=ScenarioJob(manual_recovery_seconds=5, checkpoint_every_steps=3))


def read_all(settings: Settings, topic: str, expected: int, timeout_seconds: float = 30.0) -> list[dict]:
    consumer = KafkaConsumer(
        settings.kafka.topic(topic), bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest", consumer_timeout_ms=2_000,
    )
    values: list[dict] = []
    deadline = time.monotonic() + timeout_seconds
    try:
        while len(values) < expected and time.monotonic() < deadline:
            values += [orjson.loads(message.value) for message in consumer]
    finally:
        consumer.close()
    return values


def test_emulate_every_fault_kind_through_kafka(settings: Settings) -> None:
    samples = 5 + 10 * len(CATALOG) + 10
    result = run_emulation(settings.kafka, TOPOLOGY, seed=3, samples=samples, start=START, scenario=every_kind())

    truth = read_all(settings, topics.FAULTS_TRUTH, 2 * len(CATALOG))
    goodput = read_all(settings, JOB_GOODPUT, 1)
    assert result.faults_started == len(CATALOG)
    assert {value["kind"] for value in truth} == set(CATALOG)
    assert sum("end" in value for value in truth) == len(CATALOG)
    assert goodput
    assert 0 < result.goodput["ettr"] < 1


def test_controller_applies_action_from_kafka(settings: Settings) -> None:
    ensure_topics(settings.kafka, [settings.kafka.topic(name) for name in (ACTIONS, ACTION_RESULTS)])
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    request = ActionRequest(
        action_id="act-int-1", kind="exclude_node", target="r001-n00", job="job-0001",
        incident_id="inc-1", fault_class="test", issued_at=START,
    )
    producer.send(settings.kafka.topic(ACTIONS), key=b"job-0001", value=b"not json")
    producer.send(settings.kafka.topic(ACTIONS), key=b"job-0001", value=request.model_dump_json().encode())
    producer.flush()
    producer.close()

    emulator = build_emulator(TOPOLOGY, seed=0)
    emulator.sample(START)
    controller = Controller(emulator)
    source = KafkaActionSource(settings.kafka, group_id=f"{settings.app_id}-controller", from_beginning=True)
    publisher = KafkaPublisher(settings.kafka)
    try:
        received: list[ActionRequest] = []
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            received = source.poll()
            time.sleep(0.2)
        publisher.publish(result_record(controller.apply(item, START)) for item in received)
    finally:
        publisher.close()
        source.close()

    results = read_all(settings, ACTION_RESULTS, 1)
    assert [item.action_id for item in received] == ["act-int-1"]
    assert source.invalid == 1
    assert emulator.job.members == [0, 1]
    assert [(value["action_id"], value["status"]) for value in results] == [("act-int-1", "ok")]


def test_run_emulation_controller_applies_actions(settings: Settings) -> None:
    ensure_topics(settings.kafka, [settings.kafka.topic(name) for name in (ACTIONS, ACTION_RESULTS)])
    outcome: list = []
    runner = threading.Thread(
        target=lambda: outcome.append(run_emulation(settings.kafka, TOPOLOGY, seed=0, samples=300, interval_seconds=0.05, controller=True)),
    )
    runner.start()
    # The controller starts at the newest offset, so the action goes out once it has joined.
    time.sleep(5.0)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    request = ActionRequest(
        action_id="act-int-2", kind="cordon_node", target="r001-n01", incident_id="inc-2", fault_class="test", issued_at=START,
    )
    producer.send(settings.kafka.topic(ACTIONS), key=b"job-0001", value=request.model_dump_json().encode())
    producer.flush()
    producer.close()
    runner.join(timeout=120)

    results = read_all(settings, ACTION_RESULTS, 1)
    assert outcome[0].actions_applied == 1
    assert [value["action_id"] for value in results] == ["act-int-2"]
