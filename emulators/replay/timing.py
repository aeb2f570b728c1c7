"""Event-time shifting and real-time pacing of a replay."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Final

DEFAULT_START: Final = datetime(2026, 1, 1, tzinfo=timezone.utc)


class TimeShift:
    """Move recorded event times so that the first one lands on ``start``.

    Without ``start`` every time is returned unchanged (in UTC).
    """

    def __init__(self, start: datetime | None) -> None:
        self.start = start
        self.offset: timedelta | None = None

    def apply(self, moment: datetime) -> datetime:
        """Return ``moment`` shifted by the offset fixed at the first call."""
        moment = moment.astimezone(timezone.utc)
        if self.start is None:
            return moment
        if self.offset is None:
            self.offset = self.start - moment
        return moment + self.offset


class Pacer:
    """Hold a replay to ``speed`` times real time, measured in event time.

    Speed 0 means no waiting: records go out as fast as Kafka takes them. Event times
    that go backwards do not wait.
    """

    def __init__(
        self,
        speed: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError(f"invalid speed {speed}; expected 0 (no waiting) or a positive factor of real time")
        self.speed = speed
        self.sleep = sleep
        self.monotonic = monotonic
        self.first_event: datetime | None = None
        self.first_wall = 0.0

    def wait_for(self, event_time: datetime) -> None:
        """Sleep until the wall clock reaches the moment that ``event_time`` maps to."""
        if self.speed == 0:
            return
        if self.first_event is None:
            self.first_event = event_time
            self.first_wall = self.monotonic()
            return
        due = self.first_wall + (event_time - self.first_event).total_seconds() / self.speed
        delay = due - self.monotonic()
        if delay > 0:
            self.sleep(delay)
