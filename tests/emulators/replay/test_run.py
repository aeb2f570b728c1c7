from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from emulators.cluster import Record
from emulators.replay.run import ReplaySource, replay_records
from emulators.replay.timing import Pacer, TimeShift
from pipeline import topics

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FakePublisher:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.closed = False

    def publish(self, records: Iterable[Record]) -> int:
        batch = list(records)
        self.records.extend(batch)
        return len(batch)

    def close(self) -> None:
        self.closed = True


def telemetry(seconds: float) -> Record:
    moment = (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return Record(topics.GENERIC, "m", {"time": moment, "values": {"v": 1.0}})


def label(name: str) -> Record:
    return Record(topics.FAULTS_TRUTH, name, {"fault_id": name, "start": START.isoformat()})


def test_replay_counts_by_topic() -> None:
    publisher = FakePublisher()
    source = ReplaySource("test", iter([label("f1"), telemetry(0), telemetry(1), label("f2"), telemetry(2)]))

    result = replay_records(source, publisher)

    assert result.counts == {topics.GENERIC: 3, topics.FAULTS_TRUTH: 2}
    assert result.messages == 3
    assert len(publisher.records) == 5
    assert result.interrupted is False


def test_replay_limit_counts_messages_only() -> None:
    publisher = FakePublisher()
    source = ReplaySource("test", iter([label("f1"), telemetry(0), telemetry(1), label("f2"), telemetry(2)]))

    result = replay_records(source, publisher, limit=2)

    assert result.messages == 2
    assert result.counts[topics.FAULTS_TRUTH] == 1


def test_replay_stops_reading_at_limit() -> None:
    pulled: list[int] = []

    def endless() -> Iterator[Record]:
        index = 0
        while True:
            pulled.append(index)
            yield telemetry(index)
            index += 1

    replay_records(ReplaySource("endless", endless()), FakePublisher(), limit=5)

    assert len(pulled) == 5


def test_replay_interrupted() -> None:
    def interrupted() -> Iterator[Record]:
        yield telemetry(0)
        raise KeyboardInterrupt

    result = replay_records(ReplaySource("test", interrupted()), FakePublisher())

    assert result.interrupted is True
    assert result.messages == 1


def test_replay_calls_on_record() -> None:
    seen: list[str] = []

    replay_records(ReplaySource("test", iter([label("f1"), telemetry(0)])), FakePublisher(), on_record=lambda record: seen.append(record.topic))

    assert seen == [topics.FAULTS_TRUTH, topics.GENERIC]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_double_speed() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, sleep=clock.sleep, monotonic=clock.monotonic)
    source = ReplaySource("test", iter([telemetry(0), telemetry(10), telemetry(30)]))

    replay_records(source, FakePublisher(), pacer=pacer)

    assert clock.sleeps == [5.0, 10.0]


def test_pacer_no_wait_behind_schedule() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, sleep=clock.sleep, monotonic=clock.monotonic)

    pacer.wait_for(START)
    clock.now += 20
    pacer.wait_for(START + timedelta(seconds=10))

    assert clock.sleeps == []


def test_pacer_speed_zero_never_sleeps() -> None:
    clock = FakeClock()
    pacer = Pacer(0, sleep=clock.sleep, monotonic=clock.monotonic)

    pacer.wait_for(START)
    pacer.wait_for(START + timedelta(hours=1))

    assert clock.sleeps == []


def test_pacer_rejects_negative_speed() -> None:
    with pytest.raises(ValueError, match="invalid speed -1"):
        Pacer(-1)


def test_time_shift_moves_to_start() -> None:
    shift = TimeShift(START)

    first = shift.apply(datetime(2013, 12, 2, 21, 15, tzinfo=timezone.utc))
    second = shift.apply(datetime(2013, 12, 2, 21, 20, tzinfo=timezone.utc))

    assert first == START
    assert second == START + timedelta(minutes=5)


def test_time_shift_without_start() -> None:
    moment = datetime(2013, 12, 2, 21, 15, tzinfo=timezone(timedelta(hours=2)))

    assert TimeShift(None).apply(moment) == datetime(2013, 12, 2, 19, 15, tzinfo=timezone.utc)
