"""A detector that raises does not stop the telemetry store."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from pipeline import codec
from pipeline.agents.store_telemetry import TelemetryStore
from pipeline.topics import HARDWARE_EVENTS
from tests.detectors.messages import xid_event


class RecordingWriter:
    def __init__(self) -> None:
        self.points: list[Any] = []

    async def write(self, points: list[Any]) -> None:
        self.points += points


class BrokenEngine:
    def process(self, messages: list[Any], clock: Any = None) -> list[Any]:
        raise RuntimeError("detector bug")


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Any] = []

    async def publish(self, anomalies: list[Any]) -> None:
        self.published += anomalies


def event(offset: int) -> SimpleNamespace:
    message = SimpleNamespace(topic=HARDWARE_EVENTS, tp=("hardware.events", 0), offset=offset)
    return SimpleNamespace(message=message, value=codec.encode(xid_event(13, seconds=offset)))


def test_batch_stored_when_detection_raises() -> None:
    writer, publisher = RecordingWriter(), RecordingPublisher()
    store = TelemetryStore(writer, None, "", 1_000_000, detection=(BrokenEngine(), publisher))  # type: ignore[arg-type]

    done = asyncio.run(store.handle_batch([event(0), event(1)]))

    assert len(done) == 2
    assert writer.points
    assert publisher.published == []
    assert store.metrics.detection_errors._value.get() == 1
