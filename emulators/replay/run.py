"""Publish a replay source's records to Kafka, paced and limited, and count them."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from emulators.cluster import Record
from emulators.publisher import KafkaPublisher
from emulators.replay.timing import Pacer
from pipeline import topics
from pipeline.kafka_admin import all_topic_names, ensure_topics
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass
class ReplaySource:
    """Records of one replay source, with the expected message count for progress bars.

    ``expected_messages`` counts telemetry and event messages, not fault labels, and is
    None when it is unknown before reading, as for a live scrape.
    """

    description: str
    records: Iterator[Record]
    expected_messages: int | None = None


class Publisher(Protocol):
    """The part of :class:`emulators.publisher.KafkaPublisher` that the replay calls."""

    def publish(self, records: Iterable[Record]) -> int: ...

    def close(self) -> None: ...


@dataclass
class ReplayResult:
    """Messages published per topic (name without prefix), wall time, and whether Ctrl-C stopped it."""

    counts: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0
    interrupted: bool = False

    @property
    def messages(self) -> int:
        """Return the number of telemetry and event messages, fault labels left out."""
        return sum(count for topic, count in self.counts.items() if topic != topics.FAULTS_TRUTH)


def replay_records(
    source: ReplaySource,
    publisher: Publisher,
    *,
    speed: float = 0.0,
    limit: int | None = None,
    on_record: Callable[[Record], None] | None = None,
    pacer: Pacer | None = None,
) -> ReplayResult:
    """Publish ``source`` until it ends, ``limit`` messages are out, or Ctrl-C.

    ``limit`` counts telemetry and event messages, not fault labels. A fault label is
    published when the replay reaches its start, so labels of runs after the limit are
    left out. With ``speed`` 0 records go out as fast as Kafka takes them. With N the
    replay is held to N times real time by the messages' event times.
    """
    pacer = pacer or Pacer(speed)
    result = ReplayResult()
    started = time.perf_counter()
    logger.info("replay started source=%r speed=%s limit=%s", source.description, speed, limit)
    try:
        for record in source.records:
            event_time = record.value.get("time") if record.topic != topics.FAULTS_TRUTH else None
            if event_time is not None:
                pacer.wait_for(datetime.fromisoformat(event_time.replace("Z", "+00:00")))
            publisher.publish([record])
            result.counts[record.topic] += 1
            if on_record is not None:
                on_record(record)
            if limit is not None and result.messages >= limit:
                break
    except KeyboardInterrupt:
        result.interrupted = True
        logger.info("replay interrupted source=%r messages=%d", source.description, result.messages)
    finally:
        result.wall_seconds = time.perf_counter() - started
    logger.info(
        "replay finished source=%r messages=%d fault_labels=%d wall_seconds=%.1f",
        source.description, result.messages, result.counts[topics.FAULTS_TRUTH], result.wall_seconds,
    )
    return result


def publish_replay(
    settings: KafkaSettings,
    source: ReplaySource,
    *,
    speed: float = 0.0,
    limit: int | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> ReplayResult:
    """Create the topics, publish ``source`` to Kafka and wait until the broker acknowledged it.

    Raises:
        ServiceUnavailableError: no broker was reachable, or it did not acknowledge in time.
        ReplayInputError: the source is malformed; what was published before the bad
            line stays published.
    """
    names = dict.fromkeys([*all_topic_names(settings), settings.topic(topics.FAULTS_TRUTH)])
    ensure_topics(settings, list(names))
    publisher = KafkaPublisher(settings, client_id="qianliyan-replay")
    try:
        return replay_records(source, publisher, speed=speed, limit=limit, on_record=on_record)
    finally:
        publisher.close()
