"""Tests of the durable alert outbox, with a recording notifier and a real receiver."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from pipeline.alerts.message import render_body
from pipeline.alerts.outbox import Outbox
from pipeline.alerts.receiver import RECEIVED, create_app
from pipeline.alerts.webhook import NotifyError, WebhookNotifier
from tests.alerts.conftest import make_alert, serve


class FakeClock:
    """A settable Unix clock."""

    def __init__(self, now: float = 1_767_268_800.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingNotifier:
    """A notifier that records each send and returns outcomes from a script."""

    def __init__(self, outcomes: list[tuple[bool, Exception | None]] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, body: bytes, notification_id: str) -> tuple[bool, Exception | None]:
        self.sent.append((notification_id, body))
        return self.outcomes.pop(0) if self.outcomes else (False, None)


def open_outbox(path: Path, clock: FakeClock | None = None, **options: float) -> Outbox:
    """Open an outbox at ``path`` with a fake clock and seeded jitter."""
    return Outbox(path, clock=clock or FakeClock(), rng=random.Random(0), **options)


def test_enqueue_new_id(tmp_path: Path) -> None:
    with open_outbox(tmp_path / "outbox.sqlite3") as outbox:
        assert outbox.enqueue("incident-1:firing", b"{}") is True
        assert outbox.counts() == {"pending": 1, "sent": 0, "failed": 0}


def test_enqueue_same_id_ignored(tmp_path: Path) -> None:
    with open_outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.enqueue("incident-1:firing", b"first")
        assert outbox.enqueue("incident-1:firing", b"second") is False
        entry = outbox.get("incident-1:firing")
        assert entry is not None
        assert entry.body == b"first"
        assert outbox.counts()["pending"] == 1


def test_enqueue_rejects_empty_id(tmp_path: Path) -> None:
    with open_outbox(tmp_path / "outbox.sqlite3") as outbox, pytest.raises(ValueError, match="notification_id is empty"):
        outbox.enqueue("", b"{}")


def test_drain_sends_each_once(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    with open_outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.enqueue("a", b"A")
        outbox.enqueue("b", b"B")
        first = asyncio.run(outbox.drain_once(notifier))
        second = asyncio.run(outbox.drain_once(notifier))
        assert first.sent == 2
        assert second.sent == 0
        assert notifier.sent == [("a", b"A"), ("b", b"B")]
        assert outbox.counts() == {"pending": 0, "sent": 2, "failed": 0}


def test_replay_after_send_sends_nothing(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    with open_outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.enqueue("a", b"A")
        asyncio.run(outbox.drain_once(notifier))
        assert outbox.enqueue("a", b"A") is False
        asyncio.run(outbox.drain_once(notifier))
    assert len(notifier.sent) == 1


def test_pending_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with open_outbox(path) as outbox:
        outbox.enqueue("a", b"A")
    notifier = RecordingNotifier()
    with open_outbox(path) as reopened:
        assert reopened.counts()["pending"] == 1
        asyncio.run(reopened.drain_once(notifier))
    assert notifier.sent == [("a", b"A")]


def test_sent_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    notifier = RecordingNotifier()
    with open_outbox(path) as outbox:
        outbox.enqueue("a", b"A")
        asyncio.run(outbox.drain_once(notifier))
    with open_outbox(path) as reopened:
        assert reopened.enqueue("a", b"A") is False
        asyncio.run(reopened.drain_once(notifier))
        entry = reopened.get("a")
    assert len(notifier.sent) == 1
    assert entry is not None
    assert entry.state == "sent"
    assert entry.attempts == 1


def test_drain_marks_rejected_failed(tmp_path: Path) -> None:
    notifier = RecordingNotifier([(False, NotifyError("HTTP 400", retry=False, status=400))])
    with open_outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.enqueue("a", b"A")
        result = asyncio.run(outbox.drain_once(notifier))
        entry = outbox.get("a")
        asyncio.run(outbox.drain_once(notifier))
    assert result.failed == 1
    assert entry is not None
    assert entry.state == "failed"
    assert entry.last_error == "HTTP 400"
    assert len(notifier.sent) == 1


def test_drain_postpones_transient_failure(tmp_path: Path) -> None:
    clock = FakeClock()
    notifier = RecordingNotifier([(True, NotifyError("HTTP 503", retry=True, status=503))])
    with open_outbox(tmp_path / "outbox.sqlite3", clock, retry_initial_delay_seconds=10.0, max_retry_delay_seconds=60.0) as outbox:
        outbox.enqueue("a", b"A")
        result = asyncio.run(outbox.drain_once(notifier))
        entry = outbox.get("a")
        early = asyncio.run(outbox.drain_once(notifier))
        clock.now += 10.0
        late = asyncio.run(outbox.drain_once(notifier))
    assert result.retrying == 1
    assert entry is not None
    assert entry.state == "pending"
    assert 5.0 <= entry.next_attempt_at - clock.now + 10.0 <= 10.0
    assert early.sent == 0
    assert late.sent == 1
    assert len(notifier.sent) == 2


def test_drain_expires_old_notification(tmp_path: Path) -> None:
    clock = FakeClock()
    notifier = RecordingNotifier([(True, NotifyError("timed out", retry=True))] * 2)
    with open_outbox(tmp_path / "outbox.sqlite3", clock, expiry_seconds=60.0) as outbox:
        outbox.enqueue("a", b"A")
        asyncio.run(outbox.drain_once(notifier))
        clock.now += 61.0
        result = asyncio.run(outbox.drain_once(notifier))
        entry = outbox.get("a")
    assert result.failed == 1
    assert entry is not None
    assert entry.state == "failed"
    assert entry.attempts == 2


def test_purge_keeps_recent_and_pending(tmp_path: Path) -> None:
    clock = FakeClock()
    with open_outbox(tmp_path / "outbox.sqlite3", clock, retention_seconds=100.0) as outbox:
        outbox.enqueue("old", b"A")
        outbox.enqueue("pending", b"B")
        asyncio.run(outbox.drain_once(RecordingNotifier([(False, None), (True, NotifyError("x", retry=True))])))
        clock.now += 101.0
        outbox.enqueue("recent", b"C")
        asyncio.run(outbox.drain_once(RecordingNotifier()))
        removed = outbox.purge()
        assert removed == 1
        assert outbox.get("old") is None
        assert outbox.get("recent") is not None
        assert outbox.get("pending") is not None


def test_drain_loop_stops_on_event(tmp_path: Path) -> None:
    notifier = RecordingNotifier()

    async def scenario(outbox: Outbox) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.drain(notifier, stop, poll_interval_seconds=0.01))
        outbox.enqueue("a", b"A")
        for _ in range(100):
            if notifier.sent:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=2)

    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        asyncio.run(scenario(outbox))
        assert outbox.counts()["sent"] == 1


def test_restart_delivers_once_to_receiver(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    body = render_body([make_alert()], format="alertmanager", receiver="ops")

    async def scenario() -> int:
        app = create_app(secret="s3cret")
        async with serve(app) as server:
            url = str(server.make_url("/webhook"))
            # First worker: enqueues and stops before draining.
            with Outbox(path) as outbox:
                outbox.enqueue("incident-1:firing", body)
            # Second worker: replays the same notification, then drains twice.
            with Outbox(path) as outbox:
                outbox.enqueue("incident-1:firing", body)
                async with WebhookNotifier(url, secret="s3cret") as notifier:
                    await outbox.drain_once(notifier)
                    await outbox.drain_once(notifier)
            # Third worker: replays again after delivery.
            with Outbox(path) as outbox:
                outbox.enqueue("incident-1:firing", body)
                async with WebhookNotifier(url, secret="s3cret") as notifier:
                    await outbox.drain_once(notifier)
        return len(app[RECEIVED].messages)

    assert asyncio.run(scenario()) == 1
