"""The event time up to which the worker has read every input partition: a low watermark."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime


class EventClock:
    """Low watermark of the input partitions, for detectors that act on missing data.

    A hang or a silent source is a message that did not arrive by some event time. While
    the worker catches up on a backlog, one partition can be read minutes of event time
    ahead of another, so the newest event time of all partitions would make the messages
    still waiting on the slower one look missing.

    The clock is therefore the oldest "last read" event time among the partitions that
    still have unread messages (their high watermark lies past the last offset read). A
    partition read to its end has nothing that could be earlier, so it does not hold
    the clock back. When every partition is read to its end, the clock is the newest event
    time read. The clock never moves backwards.

    Args:
        highwater: Returns a partition's high watermark (the offset of the next message to
            be written), or None when unknown; an unknown partition counts as read.
    """

    def __init__(self, highwater: Callable[[Hashable], int | None]) -> None:
        self.highwater = highwater
        self._last: dict[Hashable, tuple[int, datetime]] = {}
        self._now: datetime | None = None

    def observe(self, partition: Hashable, offset: int, time: datetime) -> None:
        """Record that a message at ``offset`` with event time ``time`` was read from ``partition``."""
        previous = self._last.get(partition)
        latest = time if previous is None else max(previous[1], time)
        self._last[partition] = (max(offset, previous[0]) if previous is not None else offset, latest)

    def now(self) -> datetime | None:
        """Return the event time up to which every partition has been read, None before the first message."""
        if not self._last:
            return None
        behind = []
        for partition, (offset, latest) in self._last.items():
            highwater = self.highwater(partition)
            if highwater is not None and highwater > offset + 1:
                behind.append(latest)
        candidate = min(behind) if behind else max(latest for _, latest in self._last.values())
        if self._now is None or candidate > self._now:
            self._now = candidate
        return self._now
