"""Clocks for the emulators: wall-clock ticks for demos, simulated ticks for backtests."""

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


def wall_clock_ticks(interval_seconds: float, count: int | None) -> Iterator[datetime]:
    """Yield the current UTC time every ``interval_seconds``, sleeping in between.

    A tick that runs late is not made up: the next one is scheduled from the late tick,
    so a slow consumer lowers the rate instead of causing a burst.
    """
    index = 0
    next_tick = time.monotonic()
    while count is None or index < count:
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield datetime.now(timezone.utc)
        index += 1
        next_tick = max(next_tick + interval_seconds, time.monotonic())
