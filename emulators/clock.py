"""Clocks for the emulators: wall-clock ticks for demos, simulated ticks for backtests.

Both yield the same event times for the same start and interval, so a seeded emulator
produces the same messages in real time as in accelerated time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone


def floor_to_second(moment: datetime) -> datetime:
    """Return ``moment`` in UTC without its fractional second."""
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def simulated_ticks(start: datetime, interval_seconds: float, count: int | None) -> Iterator[datetime]:
    """Yield ``count`` event times ``interval_seconds`` apart, as fast as the caller consumes them."""
    step = timedelta(seconds=interval_seconds)
    index = 0
    while count is None or index < count:
        yield start + index * step
        index += 1


def wall_clock_ticks(interval_seconds: float, count: int | None, start: datetime | None = None) -> Iterator[datetime]:
    """Yield the event times of :func:`simulated_ticks`, each when the wall clock reaches it.

    ``start`` defaults to the next whole second. A tick that is already due when the
    caller asks for it is yielded at once, so a slow consumer falls behind the wall clock
    but never skips an event time.
    """
    first = start or floor_to_second(datetime.now(timezone.utc)) + timedelta(seconds=1)
    for moment in simulated_ticks(first, interval_seconds, count):
        delay = (moment - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            time.sleep(delay)
        yield moment


def paced_ticks(start: datetime, interval_seconds: float, count: int | None, speed: float) -> Iterator[datetime]:
    """Yield the event times of :func:`simulated_ticks`, ``speed`` times faster than the wall clock.

    A closed loop through the pipeline needs time to pass: the worker detects and acts in
    wall-clock seconds. At ``speed`` 10, one wall second of pipeline latency costs ten
    seconds of event time, so keep it low when the latency matters.
    """
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    began = time.monotonic()
    for index, moment in enumerate(simulated_ticks(start, interval_seconds, count)):
        delay = began + index * interval_seconds / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield moment
