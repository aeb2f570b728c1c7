"""The parts of the pipeline evaluation: what each publishes to a worker and how its anomalies are scored.

- emulator: a scenario on a topology with a simulated clock; per fault kind precision,
  recall, F1 and time to detect (:func:`detectors.evaluation.faults.score_faults`).
- fault-free: the same emulator with no fault at all (no scenario, no random faults);
  every anomaly the worker publishes is a false alarm, listed by detector and entity.
- smd: replayed SMD machines (test split, first ``rows`` rows); point-adjusted F1 and
  event-wise F1 at the worker's own threshold, no threshold search.
- nab: replayed NAB series; NAB standard score with a row counted as a detection when the
  worker published an anomaly at its time.

Each ``evaluate_*`` function takes a running worker (:mod:`pipeline.evaluation.worker_run`),
publishes, waits until the worker caught up and returns its result.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from detectors.anomaly import Anomaly
from detectors.evaluation.datasets import DEFAULT_DATA_ROOT, nab_root
from detectors.evaluation.faults import KindScores, score_faults
from detectors.evaluation.metrics import DetectionScores, event_wise_f1, point_adjusted_f1
from detectors.evaluation.nab import CorpusResult, NabFile, load_profiles, score_corpus
from emulators.cluster import Record
from emulators.faults.scenario import load_scenario
from emulators.replay.run import publish_replay
from emulators.replay.sources import ReplayOptions, SourceKind, open_source
from emulators.run import run_emulation
from emulators.topology import Topology, load_topology
from pipeline import topics
from pipeline.errors import QianliyanError
from pipeline.evaluation.inputs import first_fault_start
from pipeline.evaluation.worker_run import WorkerHandle, read_anomalies, wait_until_caught_up
from pipeline.schemas import FaultTruth

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
"""Simulated start of the emulator and fault-free runs."""
DEFAULT_SCENARIO = PROJECT_ROOT / "emulators" / "scenarios" / "all-faults.yaml"
DEFAULT_TOPOLOGY = PROJECT_ROOT / "emulators" / "topologies" / "small.yaml"
DEFAULT_FAULT_FREE_SAMPLES = 3600
# Simulated seconds per wall second: about 220 messages/s from the small topology, under
# the worker's measured 380 to 450 messages/s, so the worker reads the topics as it reads live
# telemetry instead of a backlog in which partitions run minutes apart.
DEFAULT_SPEED = 10.0
DEFAULT_SMD_MACHINES = ("machine-1-6",)
DEFAULT_SMD_ROWS = 8000
DEFAULT_NAB_SERIES = (
    "realTraffic/speed_7578",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2",
    "artificialWithAnomaly/art_daily_jumpsup",
    "realKnownCause/ambient_temperature_system_failure",
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b",
)


class NotFaultFreeError(QianliyanError, RuntimeError):
    """The fault-free run injected a fault, so its anomalies are not all false alarms."""


@dataclass(frozen=True)
class EmulatorResult:
    """Fault-level scores of one emulator run through the worker."""

    scenario: str
    samples: int
    messages: int
    anomalies: int
    wait_seconds: float
    kinds: list[KindScores]
    faults_started: int = 0


@dataclass(frozen=True)
class AnomalySource:
    """The anomalies of one detector about one entity (a GPU is ``node/gpuN``)."""

    detector: str
    entity: str
    anomalies: int
    first: datetime
    last: datetime
    fault_classes: tuple[str, ...]


@dataclass(frozen=True)
class FaultFreeResult:
    """Anomalies the worker published about an emulator run without faults; each is a false alarm."""

    topology: str
    gpus: int
    samples: int
    messages: int
    faults_started: int
    anomalies: int
    wait_seconds: float
    sources: list[AnomalySource]


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


PartResult = EmulatorResult | FaultFreeResult | SmdResult | NabResult


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


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- emulator -------------------------------------------------------------------------


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


def _pace(samples: int, speed: float) -> str:
    return f", {speed:g} times real time, about {samples / speed:.0f} s" if speed else ", as fast as the broker takes them"


def evaluate_emulator(
    worker: WorkerHandle,
    scenario_path: Path,
    topology_path: Path,
    samples: int,
    work_dir: Path,
    timeout_seconds: float,
    quiet_seconds: float = 10.0,
    seed: int = 0,
    grace_seconds: float = 60.0,
    speed: float = DEFAULT_SPEED,
) -> EmulatorResult:
    """Run a scenario through the worker and score its anomalies per fault kind.

    The ground truth goes to ``work_dir/truth-<group>.jsonl``, the anomalies to
    ``work_dir/anomalies-<group>.jsonl``.
    """
    topology = load_topology(topology_path)
    truth_path = work_dir / f"truth-{worker.group_id}.jsonl"
    _progress(f"emulator: publishing {samples} samples of {scenario_path.name} on {topology_path.name}{_pace(samples, speed)}")
    scenario = load_scenario(scenario_path)
    published = run_emulation(
        worker.kafka, topology, seed=seed, samples=samples, start=START, scenario=scenario, truth_path=truth_path, speed=speed or None,
    )
    _progress(f"emulator: published {published.records} messages in {published.wall_seconds:.1f} s, {published.faults_started} faults started")
    if not published.faults_started:
        _progress(no_fault_warning(scenario_path.name, first_fault_start(scenario.faults, START), samples))
    waited = wait_until_caught_up(worker, timeout_seconds, quiet_seconds)
    anomalies = read_anomalies(worker.kafka, work_dir / f"anomalies-{worker.group_id}.jsonl")
    truth = [FaultTruth.model_validate_json(line) for line in truth_path.read_text().splitlines() if line.strip()]
    kinds = emulator_scores(truth, anomalies, topology, end_of_run=START + timedelta(seconds=samples), grace_seconds=grace_seconds)
    return EmulatorResult(scenario_path.name, samples, published.records, len(anomalies), waited, kinds, published.faults_started)


def no_fault_warning(scenario_name: str, first_start: float | None, samples: int) -> str:
    """Return the warning line of an emulator run in which no fault started."""
    if first_start is None:
        when, hint = "", "raise --samples or the scenario's random fault rate"
    else:
        when, hint = f" (its first fault starts at {first_start:g} s)", "leave out --samples to run to the end of the scenario"
    return (
        f"emulator: warning: no fault of {scenario_name} started within the {samples} samples{when}, so precision, recall "
        f"and time to detect are not measured; {hint}"
    )


def emulator_scores(
    truth: Sequence[FaultTruth], anomalies: Sequence[Anomaly], topology: Topology, end_of_run: datetime, grace_seconds: float = 60.0
) -> list[KindScores]:
    """Score the emulator's anomalies (replayed series left out) against its ground truth."""
    cluster_anomalies = [anomaly for anomaly in anomalies if anomaly.entity_kind != "series"]
    return score_faults(truth, cluster_anomalies, members=place_members(topology, truth), end_of_run=end_of_run, grace_seconds=grace_seconds)


# --- fault-free -----------------------------------------------------------------------


def evaluate_fault_free(
    worker: WorkerHandle,
    topology_path: Path,
    samples: int,
    work_dir: Path,
    timeout_seconds: float,
    quiet_seconds: float = 10.0,
    seed: int = 0,
    speed: float = DEFAULT_SPEED,
) -> FaultFreeResult:
    """Run the emulator with no fault through the worker and list the anomalies it published.

    ``run_emulation`` gets neither a scenario nor a random-fault configuration, so
    ``build_emulator`` adds no fault source at all; the run checks that no fault started.

    Raises:
        NotFaultFreeError: the emulator reported a started fault or wrote ground truth.
    """
    topology = load_topology(topology_path)
    truth_path = work_dir / f"truth-{worker.group_id}.jsonl"
    _progress(f"fault-free: publishing {samples} samples without faults on {topology_path.name} ({topology.gpu_count} GPUs){_pace(samples, speed)}")
    published = run_emulation(
        worker.kafka, topology, seed=seed, samples=samples, start=START, scenario=None, random_faults=None, truth_path=truth_path, speed=speed or None
    )
    _progress(f"fault-free: published {published.records} messages in {published.wall_seconds:.1f} s")
    truth_lines = [line for line in truth_path.read_text().splitlines() if line.strip()] if truth_path.is_file() else []
    if published.faults_started or truth_lines:
        raise NotFaultFreeError(
            f"the fault-free run started {published.faults_started} fault(s) and wrote {len(truth_lines)} truth record(s) to {truth_path}"
        )
    waited = wait_until_caught_up(worker, timeout_seconds, quiet_seconds)
    anomalies = read_anomalies(worker.kafka, work_dir / f"anomalies-{worker.group_id}.jsonl")
    return FaultFreeResult(
        topology_path.name, topology.gpu_count, samples, published.records, published.faults_started, len(anomalies), waited, anomaly_sources(anomalies)
    )


def anomaly_sources(anomalies: Sequence[Anomaly]) -> list[AnomalySource]:
    """Group anomalies by detector and entity; most anomalies first, then by detector and entity."""
    groups: dict[tuple[str, str], list[Anomaly]] = defaultdict(list)
    for anomaly in anomalies:
        entity = anomaly.entity if anomaly.gpu is None else f"{anomaly.entity}/gpu{anomaly.gpu}"
        groups[(anomaly.detector, entity)].append(anomaly)
    sources = [
        AnomalySource(
            detector, entity, len(items), min(item.time for item in items), max(item.time for item in items),
            tuple(sorted({item.fault_class for item in items if item.fault_class})),
        )
        for (detector, entity), items in groups.items()
    ]
    return sorted(sources, key=lambda source: (-source.anomalies, source.detector, source.entity))


# --- replayed data sets ---------------------------------------------------------------


def replay_source(worker: WorkerHandle, kind: SourceKind, location: Path, options: ReplayOptions) -> tuple[ReplayCapture, int]:
    """Publish a replay source to the worker's topics; return its captured row times and truth, and the message count."""
    capture = ReplayCapture()
    source = open_source(kind, str(location), options)
    result = publish_replay(worker.kafka, source, limit=options.limit, on_record=capture)
    _progress(f"{source.description}: published {result.messages} messages in {result.wall_seconds:.1f} s")
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
    worker: WorkerHandle,
    series: Sequence[str],
    timeout_seconds: float,
    quiet_seconds: float = 10.0,
    data_root: Path = DEFAULT_DATA_ROOT,
    start: datetime | None = None,
) -> NabResult:
    """Replay NAB series through the worker and compute the NAB standard score of its anomalies.

    A row whose time carries an anomaly scores 1, every other row 0, and the corpus is
    scored at threshold 1, so the result is the worker's own decisions with no
    threshold search. The series keep their own times unless ``start`` is given.
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
