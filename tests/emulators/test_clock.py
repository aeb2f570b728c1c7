from __future__ import annotations

from datetime import datetime, timedelta, timezone

from emulators.clock import simulated_ticks, wall_clock_ticks


def test_wall_clock_matches_simulated_ticks() -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    assert list(wall_clock_ticks(0.5, 4, start)) == list(simulated_ticks(start, 0.5, 4))


def test_wall_clock_waits_for_due_tick() -> None:
    start = datetime.now(timezone.utc) + timedelta(seconds=0.2)
    first = next(wall_clock_ticks(1.0, 1, start))
    assert datetime.now(timezone.utc) >= first


def test_wall_clock_starts_on_whole_second() -> None:
    first = next(wall_clock_ticks(0.01, 1))
    assert first.microsecond == 0


def test_paced_ticks_same_times_and_pace() -> None:
    import time as wall
    from datetime import datetime, timezone

    from emulators.clock import paced_ticks, simulated_ticks

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    began = wall.monotonic()

    paced = list(paced_ticks(start, 1.0, 5, speed=20.0))

    assert paced == list(simulated_ticks(start, 1.0, 5))
    assert wall.monotonic() - began >= 4 / 20.0


def test_paced_ticks_reject_zero_speed() -> None:
    import pytest
    from datetime import datetime, timezone

    from emulators.clock import paced_ticks

    with pytest.raises(ValueError, match="speed must be > 0"):
        next(paced_ticks(datetime(2026, 1, 1, tzinfo=timezone.utc), 1.0, 1, speed=0))
