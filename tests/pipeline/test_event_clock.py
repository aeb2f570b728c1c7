"""Event clock: the low watermark of the partitions that still hold unread messages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipeline.agents.event_clock import EventClock
from pipeline.detection.engine import DetectionEngine
from pipeline.schemas import JobProgress

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_no_message_no_time() -> None:
    assert EventClock(lambda partition: None).now() is None


def test_lagging_partition_holds_clock_back() -> None:
    highwaters = {"a": 1000, "b": 1000}
    clock = EventClock(highwaters.get)

    clock.observe("a", 999, at(600))
    clock.observe("b", 10, at(20))

    assert clock.now() == at(20)


def test_partition_read_to_end_does_not_hold_back() -> None:
    highwaters = {"a": 1000, "b": 11}
    clock = EventClock(highwaters.get)

    clock.observe("a", 500, at(300))
    clock.observe("b", 10, at(20))

    assert clock.now() == at(300)


def test_all_read_gives_newest_time() -> None:
    highwaters = {"a": 100, "b": 50}
    clock = EventClock(highwaters.get)

    clock.observe("a", 99, at(90))
    clock.observe("b", 49, at(95))

    assert clock.now() == at(95)


def test_clock_never_moves_backwards() -> None:
    highwaters = {"a": 100, "b": 100}
    clock = EventClock(highwaters.get)
    clock.observe("a", 99, at(90))
    assert clock.now() == at(90)

    # A partition first read now, far behind: the clock stays.
    clock.observe("b", 5, at(5))

    assert clock.now() == at(90)


def progress(step: int, seconds: float) -> JobProgress:
    return JobProgress.model_validate({
        "schema_version": 1, "time": at(seconds).isoformat(), "job": "j1", "node": "n0", "rank": 0, "step": step, "step_time_seconds": 2.0,
    })


def test_engine_hang_waits_for_the_clock() -> None:
    engine = DetectionEngine(rules=[])
    engine.process([progress(step, step * 2.0) for step in range(1, 5)])

    # Other topics are read up to 200 s, but the job's partition only up to 8 s.
    while_lagging = engine.process([], clock=at(8))
    engine.watermark = at(200)
    while_lagging_again = engine.process([], clock=at(8))
    released = engine.process([], clock=at(60))

    assert while_lagging == []
    assert while_lagging_again == []
    assert [anomaly.detector for anomaly in released] == ["job.hang"]
