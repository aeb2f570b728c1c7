"""Score the worker's detection end to end: input through Kafka, anomalies back from Kafka.

Each part starts its own ``qianliyan worker`` with a consumer group, topic prefix and
InfluxDB database of its own, publishes its input, waits until the worker has caught up,
reads the ``anomalies`` topic and scores it with ``detectors.evaluation``:

- emulator: a scenario on a topology with a simulated clock; per fault kind precision,
  recall, F1 and time to detect (``detectors.evaluation.faults``).
- smd: replayed SMD machines (test split, first ``--smd-rows`` rows); point-adjusted F1
  and event-wise F1 at the worker's own threshold, no threshold search.
- nab: replayed NAB series; NAB standard score with a row counted as a detection when
  the worker published an anomaly at its time.

The worker has caught up when its consumer group's committed offsets on every input
topic equal the topics' end offsets, and the ``anomalies`` topic has not grown for
``--quiet`` seconds. Needs the services from ``scripts/services.sh up``.

    .venv/bin/python benchmarks/evaluate_pipeline.py
    .venv/bin/python benchmarks/evaluate_pipeline.py --parts smd nab --json results.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from detectors.anomaly import Anomaly
from detectors.evaluation.datasets import DEFAULT_DATA_ROOT, nab_root
from detectors.evaluation.faults import KindScores, score_faults
from detectors.evaluation.metrics import DetectionScores, event_wise_f1, point_adjusted_f1
from detectors.evaluation.nab import CorpusResult, NabFile, load_profiles, score_corpus
from detectors.evaluation.report import as_json, render_table
from emulators.cluster import Record
from emulators.faults.scenario import load_scenario
from emulators.replay.run import publish_replay
from emulators.replay.sources import ReplayOptions, SourceKind, open_source
from emulators.run import run_emulation
from emulators.topology import Topology, load_topology
from pipeline import topics
from pipeline.schemas import FaultTruth
from pipeline.settings import InfluxDBSettings, KafkaSettings
from pipeline.sinks import influxql

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_SCENARIO = ROOT / "emulators" / "scenarios" / "all-faults.yaml"
DEFAULT_TOPOLOGY = ROOT / "emulators" / "topologies" / "small.yaml"
DEFAULT_SMD_MACHINES = ("machine-1-6",)
DEFAULT_NAB_SERIES = (
    "realTraffic/speed_7578",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2",
    "artificialWithAnomaly/art_daily_jumpsup",
    "realKnownCause/ambient_temperature_system_failure",
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b",
)
PARTS = ("emulator", "smd", "nab")


@dataclass
class WorkerHandle:
    """A running worker: its Kafka settings, consumer group and log file."""

    kafka: KafkaSettings
    group_id: str
    process: subprocess.Popen[bytes] | None
    log_path: Path | None


@dataclass(frozen=True)
class EmulatorResult:
    """Fault-level scores of one emulator run through the worker."""

    scenario: str
    samples: int
    messages: int
    anomalies: int
    wait_seconds: float
    kinds: list[KindScores]


@dataclass(frozen=True)
class SeriesScores:
    """Point-adjusted and event-wise scores of one replayed SMD machine."""

    machine: str
    rows: int
    events: int
    anomalies: int
    point_adjusted: DetectionScores
    event_wise: DetectionScores


@dataclass(frozen=True)
class SmdResult:
    """Scores of the replayed SMD machines."""

    messages: int
    wait_seconds: float
    machines: list[SeriesScores]


@dataclass(frozen=True)
class NabResult:
    """NAB standard score of the replayed series at the worker's threshold."""

    messages: int
    anomalies: int
    wait_seconds: float
    corpus: CorpusResult


@dataclass
class ReplayCapture:
    """Event times per entity and ground truth, collected while a replay publishes."""

    times: dict[str, list[datetime]] = field(default_factory=dict)
    truth: list[FaultTruth] = field(default_factory=list)

    def __call__(self, record: Record) -> None:
        if record.topic == topics.FAULTS_TRUTH:
            self.truth.append(FaultTruth.model_validate(record.value))
        elif record.topic == topics.GENERIC:
            self.times.setdefault(record.value["entity"], []).append(_parse_time(record.value["time"]))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


# --- worker lifecycle -------------------------------------------------------------


@contextmanager
def running_worker(part: str, work_dir: Path) -> Iterator[WorkerHandle]:
    """Start ``qianliyan worker`` with a group, topic prefix and database of its own; stop and drop them at exit."""
    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(topic_prefix=f"eval-{run_id}.")
    influxdb = InfluxDBSettings(bucket=f"eval_{run_id}")
    group_id = f"eval-{part}-{run_id}"
    influxql.query(influxdb, f'CREATE DATABASE "{influxdb.bucket}"', method="POST")

    env = dict(
        os.environ,
        QIANLIYAN_APP_ID=group_id,
        QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        QIANLIYAN_KAFKA__TOPIC_PREFIX=kafka.topic_prefix,
        QIANLIYAN_INFLUXDB__URL=influxdb.url,
        QIANLIYAN_INFLUXDB__BUCKET=influxdb.bucket,
        QIANLIYAN_METRICS_PORT="0",
        QIANLIYAN_LOG_LEVEL="WARNING",
        QIANLIYAN_ALERTS__OUTBOX_PATH=str(work_dir / f"outbox-{run_id}.sqlite3"),
    )

    log_path = work_dir / f"worker-{part}-{run_id}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    logger.info("worker started part=%s group=%s prefix=%s database=%s pid=%d", part, group_id, kafka.topic_prefix, influxdb.bucket, process.pid)
    try:
        yield WorkerHandle(kafka, group_id, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        influxql.query(influxdb, f'DROP DATABASE "{influxdb.bucket}"', method="POST")
        logger.info("worker stopped part=%s returncode=%s database dropped=%s", part, process.returncode, influxdb.bucket)


def wait_until_caught_up(worker: WorkerHandle, timeout_seconds: float, quiet_seconds: float = 10.0) -> float:
    """Block until the worker committed every input message and ``anomalies`` stopped growing.

    Returns:
        Seconds waited.

    Raises:
        TimeoutError: The worker did not catch up in time; the message gives the lag.
        RuntimeError: The worker process exited.
    """
    started = time.monotonic()
    input_topics = set(worker.kafka.telemetry_topics)
    anomalies_topic = worker.kafka.topic(topics.ANOMALIES)
    admin = KafkaAdminClient(bootstrap_servers=worker.kafka.bootstrap_servers, client_id="qianliyan-evaluate")
    consumer = KafkaConsumer(bootstrap_servers=worker.kafka.bootstrap_servers, client_id="qianliyan-evaluate", enable_auto_commit=False)
    last_anomalies = -1
    stable_since = time.monotonic()
    lag = None
    try:
        while time.monotonic() - started < timeout_seconds:
            if worker.process is not None and worker.process.poll() is not None:
                raise RuntimeError(f"the worker exited with status {worker.process.returncode}; see {worker.log_path}")
            lag = _input_lag(admin, consumer, worker.group_id, input_topics)
            anomalies = sum(_end_offsets(consumer, anomalies_topic).values())
            if anomalies != last_anomalies:
                last_anomalies, stable_since = anomalies, time.monotonic()
            if lag == 0 and time.monotonic() - stable_since >= quiet_seconds:
                return time.monotonic() - started
            print(f"  waiting for the worker: lag {lag} messages, {anomalies} anomalies", file=sys.stderr, flush=True)
            time.sleep(2.0)
    finally:
        admin.close()
        consumer.close()
    raise TimeoutError(f"the worker did not catch up within {timeout_seconds:.0f} s: consumer lag {lag} messages on group {worker.group_id}; raise --timeout")


def _end_offsets(consumer: KafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    partitions = consumer.partitions_for_topic(topic) or set()
    return dict(consumer.end_offsets([TopicPartition(topic, number) for number in partitions])) if partitions else {}


def _input_lag(admin: KafkaAdminClient, consumer: KafkaConsumer, group_id: str, input_topics: set[str]) -> int | None:
    """Return the messages on the input topics that the group has not committed, None before its first commit."""
    consumer.topics()  # refresh metadata so that topics created since the last call are known
    ends: dict[TopicPartition, int] = {}
    for topic in input_topics:
        ends.update(_end_offsets(consumer, topic))
    if not any(ends.values()):
        return None
    committed = admin.list_group_offsets(group_id).get(group_id, {})
    if not committed:
        return None
    return sum(max(end - (committed[partition].offset if partition in committed else 0), 0) for partition, end in ends.items())


def read_anomalies(kafka: KafkaSettings, path: Path | None = None) -> list[Anomaly]:
    """Read every record of the ``anomalies`` topic up to its end offsets, optionally into a JSON Lines file."""
    topic = kafka.topic(topics.ANOMALIES)
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, client_id="qianliyan-evaluate", enable_auto_commit=False)
    try:
        ends = _end_offsets(consumer, topic)
        consumer.assign(list(ends))
        consumer.seek_to_beginning()
        values: list[bytes] = []
        remaining = {partition: end for partition, end in ends.items() if end > 0}
        while remaining:
            for partition, records in consumer.poll(timeout_ms=1000).items():
                values += [record.value for record in records if record.offset < ends[partition]]
                if records and records[-1].offset + 1 >= ends[partition]:
                    remaining.pop(partition, None)
    finally:
        consumer.close()
    anomalies = [Anomaly.model_validate_json(value) for value in values]
    anomalies.sort(key=lambda anomaly: anomaly.time)
    if path is not None:
        path.write_text("".join(anomaly.model_dump_json() + "\n" for anomaly in anomalies))
    return anomalies


# --- the three parts ------------------------------------------------------------------


def place_members(topology: Topology, truth: Sequence[FaultTruth]) -> dict[str, list[str]]:
    """Return the nodes under each leaf switch and each job, so that a switch or job fault matches anomalies on them.

    NOTE: a job's nodes are the topology's job nodes at the start; a node swapped in from
    the spares later is not counted as the job's.
    """
    members = {name: [topology.node_names[node] for node in topology.nodes_of_switch(index)] for index, name in enumerate(topology.switch_names)}
    job_nodes = [topology.node_names[node] for node in topology.job_node_indices]
    for record in truth:
        if record.scope == "job":
            members[record.entity] = job_nodes
    return members


def evaluate_emulator(
    worker: WorkerHandle, scenario_path: Path, topology_path: Path, samples: int, work_dir: Path, timeout_seconds: float,
    quiet_seconds: float = 10.0, seed: int = 0,
) -> EmulatorResult:
    """Run a scenario through the worker and score its anomalies per fault kind."""
    topology = load_topology(topology_path)
    truth_path = work_dir / f"truth-{worker.group_id}.jsonl"
    print(f"emulator: publishing {samples} samples of {scenario_path.name} on {topology_path.name}", file=sys.stderr, flush=True)
    published = run_emulation(worker.kafka, topology, seed=seed, samples=samples, start=START, scenario=load_scenario(scenario_path), truth_path=truth_path)
    print(f"emulator: published {published.records} messages in {published.wall_seconds:.1f} s", file=sys.stderr, flush=True)
    waited = wait_until_caught_up(worker, timeout_seconds, quiet_seconds)
    anomalies = read_anomalies(worker.kafka, work_dir / f"anomalies-{worker.group_id}.jsonl")
    truth = [FaultTruth.model_validate_json(line) for line in truth_path.read_text().splitlines() if line.strip()]
    kinds = emulator_scores(truth, anomalies, topology, end_of_run=START + timedelta(seconds=samples))
    return EmulatorResult(scenario_path.name, samples, published.records, len(anomalies), waited, kinds)


def emulator_scores(truth: Sequence[FaultTruth], anomalies: Sequence[Anomaly], topology: Topology, end_of_run: datetime) -> list[KindScores]:
    """Score the emulator's anomalies (replayed series left out) against its ground truth."""
    cluster_anomalies = [anomaly for anomaly in anomalies if anomaly.entity_kind != "series"]
    return score_faults(truth, cluster_anomalies, members=place_members(topology, truth), end_of_run=end_of_run)


def replay_source(worker: WorkerHandle, kind: SourceKind, location: Path, options: ReplayOptions) -> tuple[ReplayCapture, int]:
    """Publish a replay source to the worker's topics; return its captured row times and truth, and the message count."""
    capture = ReplayCapture()
    source = open_source(kind, str(location), options)
    result = publish_replay(worker.kafka, source, limit=options.limit, on_record=capture)
    print(f"{source.description}: published {result.messages} messages in {result.wall_seconds:.1f} s", file=sys.stderr, flush=True)
    return capture, result.messages


def detected_rows(times: Sequence[datetime], anomalies: Sequence[Anomaly], entity: str) -> np.ndarray:
    """Return, per replayed row, whether the worker published an anomaly about ``entity`` at its time."""
    flagged = {anomaly.time for anomaly in anomalies if anomaly.entity == entity}
    return np.array([moment in flagged for moment in times], dtype=bool)


def evaluate_smd(
    worker: WorkerHandle, machines: Sequence[str], rows: int, timeout_seconds: float, quiet_seconds: float = 10.0, data_root: Path = DEFAULT_DATA_ROOT
) -> SmdResult:
    """Replay SMD test rows through the worker and score its anomalies as point predictions."""
    captures = []
    messages = 0
    for machine in machines:
        capture, count = replay_source(worker, SourceKind.SMD, data_root / "smd", ReplayOptions(machine=machine, limit=rows))
        captures.append((machine, capture))
        messages += count
    waited = wait_until_caught_up(worker, timeout_seconds, quiet_seconds)
    anomalies = read_anomalies(worker.kafka)
    scores = []
    for machine, capture in captures:
        times = capture.times.get(machine, [])
        labels = np.array([any(truth.start <= moment < truth.end for truth in capture.truth if truth.end) for moment in times], dtype=bool)
        predictions = detected_rows(times, anomalies, machine)
        events = int(np.count_nonzero(np.diff(np.concatenate([[0], labels.astype(np.int8)])) == 1))
        scores.append(
            SeriesScores(machine, len(times), events, int(predictions.sum()), point_adjusted_f1(labels, predictions), event_wise_f1(labels, predictions))
        )
    return SmdResult(messages, waited, scores)


def evaluate_nab(
    worker: WorkerHandle, series: Sequence[str], timeout_seconds: float, quiet_seconds: float = 10.0, data_root: Path = DEFAULT_DATA_ROOT,
    start: datetime | None = None,
) -> NabResult:
    """Replay NAB series through the worker and compute the NAB standard score of its anomalies.

    A row whose time carries an anomaly scores 1, every other row 0, and the corpus is
    scored at threshold 1, so the result is the worker's own decisions with no
    threshold search.
    """
    captures = []
    messages = 0
    for name in series:
        capture, count = replay_source(worker, SourceKind.NAB, nab_root(data_root), ReplayOptions(series=name, start=start))
        captures.append((name, capture))
        messages += count
    waited = wait_until_caught_up(worker, timeout_seconds, quiet_seconds)
    anomalies = [anomaly for anomaly in read_anomalies(worker.kafka) if anomaly.entity_kind == "series"]
    files = [nab_file(name, capture, anomalies) for name, capture in captures]
    profile = load_profiles(nab_root(data_root) / "config" / "profiles.json")["standard"]
    return NabResult(messages, len(anomalies), waited, score_corpus(files, profile, threshold=1.0))


def nab_file(name: str, capture: ReplayCapture, anomalies: Sequence[Anomaly]) -> NabFile:
    """Return one replayed series as a NAB file: binary scores from the anomalies, windows from the replayed truth."""
    times = np.array(capture.times.get(name, []), dtype=object)
    windows = []
    for truth in sorted(capture.truth, key=lambda record: record.start):
        inside = np.flatnonzero([truth.start <= moment <= (truth.end or truth.start) for moment in times])
        if inside.size:
            windows.append((int(inside[0]), int(inside[-1])))
    scores = detected_rows(list(times), anomalies, name).astype(float)
    return NabFile(f"{name}.csv", scores, tuple(windows))


# --- printing ---------------------------------------------------------------------------


def emulator_table(result: EmulatorResult) -> str:
    """Return the per-kind table of an emulator run."""
    rows = [
        [row.kind, row.faults, row.detected, row.false_alarms, row.precision, row.recall, row.f1, row.detect_seconds_median, row.detect_seconds_max]
        for row in result.kinds
    ]
    return render_table(["fault kind", "faults", "detected", "false alarms", "precision", "recall", "F1", "median TTD s", "max TTD s"], rows)


def smd_table(result: SmdResult) -> str:
    """Return the per-machine table of the SMD replay."""
    rows = [
        [m.machine, m.rows, m.events, m.anomalies, m.point_adjusted.precision, m.point_adjusted.recall, m.point_adjusted.f1,
         m.event_wise.precision, m.event_wise.recall, m.event_wise.f1]
        for m in result.machines
    ]
    return render_table(["machine", "rows", "events", "anomalies", "PA-P", "PA-R", "PA-F1", "event-P", "event-R", "event-F1"], rows)


def nab_table(result: NabResult) -> str:
    """Return the per-series and corpus table of the NAB replay."""
    rows = [[file.name, file.true_positives, file.false_negatives, file.false_positives, file.raw, file.normalized] for file in result.corpus.files]
    rows.append(["(corpus)", None, None, None, result.corpus.raw, result.corpus.normalized])
    return render_table(["series", "found", "missed", "false", "raw", "NAB score"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the chosen parts and print their tables; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run (default: all three)")
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="emulator scenario YAML (default all-faults.yaml)")
    parser.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, help="emulator topology YAML (default small.yaml)")
    parser.add_argument("--samples", type=int, default=2400, help="emulator samples, one simulated second each (default 2400)")
    parser.add_argument("--smd-machine", dest="smd_machines", action="append", help="SMD machine to replay; repeat for several (default machine-1-6)")
    parser.add_argument("--smd-rows", type=int, default=8000, help="SMD test rows per machine, one simulated minute each (default 8000)")
    parser.add_argument("--nab-series", action="append", help="NAB series such as realKnownCause/nyc_taxi; repeat for several (default: 5 series)")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder that contains smd/ and nab/ (default ../shared/data)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the worker per part (default 900)")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds without new anomalies, at zero lag, that end the wait (default 10)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--keep", type=Path, help="folder for worker logs, anomalies and truth files (default: a temporary folder)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qianliyan-eval-") as temporary:
        work_dir = arguments.keep or Path(temporary)
        work_dir.mkdir(parents=True, exist_ok=True)
        runners: dict[str, Callable[[WorkerHandle], Any]] = {
            "emulator": lambda worker: evaluate_emulator(worker, arguments.scenario, arguments.topology, arguments.samples, work_dir, arguments.timeout, arguments.quiet),
            "smd": lambda worker: evaluate_smd(worker, arguments.smd_machines or DEFAULT_SMD_MACHINES, arguments.smd_rows, arguments.timeout, arguments.quiet, arguments.data_root),
            "nab": lambda worker: evaluate_nab(worker, arguments.nab_series or DEFAULT_NAB_SERIES, arguments.timeout, arguments.quiet, arguments.data_root),
        }
        tables = {"emulator": emulator_table, "smd": smd_table, "nab": nab_table}
        for part in arguments.parts:
            started = time.perf_counter()
            with running_worker(part, work_dir) as worker:
                result = runners[part](worker)
            results[part] = result
            print(f"\n{part}: {time.perf_counter() - started:.0f} s in all, worker caught up {result.wait_seconds:.0f} s after the last publish")
            print(tables[part](result), flush=True)

    if arguments.json is not None:
        arguments.json.write_text(json.dumps(as_json(results), indent=2, default=str))
        print(f"\nwrote {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
