"""Drive a :class:`ClusterEmulator` with a clock, publish every sample to Kafka and apply actions."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emulators.action_source import KafkaActionSource
from emulators.clock import paced_ticks, simulated_ticks, wall_clock_ticks
from emulators.cluster import ClusterEmulator
from emulators.controller import Controller, result_record
from emulators.faults.injector import FaultInjector, FaultSource
from emulators.faults.random_process import RandomFaultConfig, RandomFaultProcess
from emulators.faults.scenario import Scenario, ScenarioSource
from emulators.faults.truth import TruthLog
from emulators.job import JobConfig
from emulators.messages import ACTION_RESULTS, ACTIONS, JOB_GOODPUT
from emulators.publisher import KafkaPublisher
from emulators.topology import Topology
from pipeline import topics
from pipeline.kafka_admin import ensure_topics
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SAMPLES = 60
DEFAULT_JOB = JobConfig(goodput_interval_seconds=10.0)


@dataclass(frozen=True)
class EmulationResult:
    """Counts of one emulator run, and the job's time accounting at its end."""

    samples: int
    records: int
    first_time: datetime | None
    last_time: datetime | None
    wall_seconds: float
    faults_started: int = 0
    actions_applied: int = 0
    goodput: dict[str, Any] = field(default_factory=dict)


def build_emulator(
    topology: Topology,
    *,
    seed: int,
    scenario: Scenario | None = None,
    random_faults: RandomFaultConfig | None = None,
    truth_log: TruthLog | None = None,
    job: JobConfig = DEFAULT_JOB,
) -> ClusterEmulator:
    """Return an emulator with the scenario's faults and, when configured, random faults.

    ``random_faults`` replaces the scenario's own ``random`` section.

    Raises:
        ValueError: a scenario fault names an unknown place or parameter.
    """
    sources: list[FaultSource] = []
    if scenario is not None:
        source = ScenarioSource(scenario, topology)
        # Check every place and parameter now, before anything is published.
        source.resolve(datetime.now(timezone.utc))
        sources.append(source)
    random_config = random_faults or (scenario.random if scenario is not None else None)
    if random_config is not None:
        sources.append(RandomFaultProcess(topology, random_config, seed))
    injector = FaultInjector(topology, sources, truth_log)
    if scenario is not None:
        job = scenario.job.apply(job)
    return ClusterEmulator(topology, seed=seed, job=job, injector=injector)


def run_emulation(
    settings: KafkaSettings,
    topology: Topology,
    *,
    seed: int,
    samples: int | None,
    interval_seconds: float = 1.0,
    start: datetime | None = None,
    scenario: Scenario | None = None,
    random_faults: RandomFaultConfig | None = None,
    truth_path: Path | None = None,
    controller: bool = False,
    job: JobConfig = DEFAULT_JOB,
    speed: float | None = None,
) -> EmulationResult:
    """Publish ``samples`` samples (``None``: until interrupted).

    With ``start`` the clock is simulated: samples are ``interval_seconds`` apart in event
    time from ``start`` and published as fast as the broker takes them. Without it, the
    clock is the wall clock from the next whole second. With ``start`` and ``speed``, event
    time runs ``speed`` times faster than the wall clock. With ``controller`` the run also
    applies the actions that arrive on ``actions`` and publishes their results.

    NOTE: with a simulated clock, actions still arrive in wall-clock time, so the event
    time between a fault and its action depends on how fast the pipeline runs.
    """
    ensure_topics(settings)
    ensure_topics(settings, [settings.topic(name) for name in (topics.FAULTS_TRUTH, JOB_GOODPUT, ACTIONS, ACTION_RESULTS)])
    truth_log = TruthLog(truth_path) if truth_path is not None else None
    emulator = build_emulator(topology, seed=seed, scenario=scenario, random_faults=random_faults, truth_log=truth_log, job=job)
    publisher = KafkaPublisher(settings)
    actions = KafkaActionSource(settings) if controller else None
    if start is None:
        ticks = wall_clock_ticks(interval_seconds, samples)
    elif speed is None:
        ticks = simulated_ticks(start, interval_seconds, samples)
    else:
        ticks = paced_ticks(start, interval_seconds, samples, speed)
    fault_sources = [name for name, present in (("scenario", scenario), ("random", random_faults)) if present]
    logger.info(
        "emulation started cluster=%s racks=%d nodes=%d gpus=%d spares=%d seed=%d clock=%s faults=%s controller=%s",
        topology.cluster, topology.racks, topology.node_count, topology.gpu_count, topology.spare_nodes, seed,
        "simulated" if start else "wall", ",".join(fault_sources) or "none", controller,
    )
    try:
        return _loop(emulator, ticks, publisher, Controller(emulator) if actions else None, actions)
    finally:
        publisher.close()
        if actions is not None:
            actions.close()
        if truth_log is not None:
            truth_log.close()


def _loop(
    emulator: ClusterEmulator,
    ticks: Any,
    publisher: KafkaPublisher,
    controller: Controller | None,
    actions: KafkaActionSource | None,
) -> EmulationResult:
    started = time.perf_counter()
    count = records = applied = 0
    first: datetime | None = None
    last: datetime | None = None
    try:
        for now in ticks:
            records += publisher.publish(emulator.sample(now))
            if controller is not None and actions is not None:
                results = [controller.apply(request, now) for request in actions.poll()]
                records += publisher.publish(result_record(result) for result in results)
                applied += len(results)
            count += 1
            first = first or now
            last = now
            if count % PROGRESS_EVERY_SAMPLES == 0:
                logger.info("emulation progress samples=%d records=%d event_time=%s ettr=%.4f", count, records, now.isoformat(), emulator.job.ledger.ettr)
    except KeyboardInterrupt:
        logger.info("emulation interrupted samples=%d", count)

    goodput = emulator.job.goodput_value(last) if last is not None else {}
    result = EmulationResult(count, records, first, last, time.perf_counter() - started, emulator.injector.started, applied, goodput)
    logger.info(
        "emulation finished samples=%d records=%d wall_seconds=%.1f faults_started=%d actions_applied=%d ettr=%s",
        count, records, result.wall_seconds, result.faults_started, applied, goodput.get("ettr"),
    )
    return result
