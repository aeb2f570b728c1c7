"""Drive a :class:`ClusterEmulator` with a clock and publish every sample to Kafka."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from emulators.clock import simulated_ticks, wall_clock_ticks
from emulators.cluster import ClusterEmulator
from emulators.publisher import KafkaPublisher
from emulators.topology import Topology
from pipeline.kafka_admin import ensure_topics
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SAMPLES = 60


@dataclass(frozen=True)
class EmulationResult:
    """What one emulator run published."""

    samples: int
    records: int
    first_time: datetime | None
    last_time: datetime | None
    wall_seconds: float


def run_emulation(
    settings: KafkaSettings,
    topology: Topology,
    *,
    seed: int,
    samples: int | None,
    interval_seconds: float = 1.0,
    start: datetime | None = None,
) -> EmulationResult:
    """Publish ``samples`` samples (``None``: until interrupted).

    With ``start`` the clock is simulated: samples are ``interval_seconds`` apart in event
    time from ``start`` and published as fast as the broker takes them. Without it, the
    clock is the wall clock.
    """
    ensure_topics(settings)
    emulator = ClusterEmulator(topology, seed=seed)
    publisher = KafkaPublisher(settings)
    ticks = simulated_ticks(start, interval_seconds, samples) if start else wall_clock_ticks(interval_seconds, samples)
    logger.info(
        "emulation started cluster=%s racks=%d nodes=%d gpus=%d seed=%d clock=%s",
        topology.cluster, topology.racks, topology.node_count, topology.gpu_count, seed,
        "simulated" if start else "wall",
    )

    started = time.perf_counter()
    count = 0
    records = 0
    first: datetime | None = None
    last: datetime | None = None
    try:
        for now in ticks:
            records += publisher.publish(emulator.sample(now))
            count += 1
            first = first or now
            last = now
            if count % PROGRESS_EVERY_SAMPLES == 0:
                logger.info("emulation progress samples=%d records=%d event_time=%s", count, records, now.isoformat())
    except KeyboardInterrupt:
        logger.info("emulation interrupted samples=%d", count)
    finally:
        publisher.close()

    result = EmulationResult(count, records, first, last, time.perf_counter() - started)
    logger.info("emulation finished samples=%d records=%d wall_seconds=%.1f", count, records, result.wall_seconds)
    return result
