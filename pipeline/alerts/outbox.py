"""Durable, idempotent outbox of alert notifications in one SQLite file.

Each notification has an id chosen by the producer (for example ``incident-42:firing``).
:meth:`Outbox.enqueue` stores its rendered body once: enqueueing the same id again, as a
replay of Kafka messages after a restart does, changes nothing. :meth:`Outbox.drain_once`
sends the pending notifications through a :class:`~pipeline.alerts.base.Notifier` and
records the outcome, so a restarted worker resumes with what was not sent yet.

States: ``pending`` (waiting for its first or next attempt), ``sent``, ``failed``
(rejected by the receiver, or still undelivered after the expiry time).

NOTE: delivery is at least once. A crash after the receiver accepted a request but before
the ``sent`` state was committed sends that notification again after the restart, with
the same ``X-Qianliyan-Notification-Id`` header so the receiver can drop the repeat.
NOTE: one process drains one file; two workers sharing a file would both send.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.alerts.base import Notifier
from pipeline.alerts.message import CONTENT_TYPE
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.webhook import backoff_delay

logger = logging.getLogger(__name__)

OutboxState = Literal["pending", "sent", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notification (
    notification_id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    enqueued_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS notification_due ON notification (state, next_attempt_at);
"""


@dataclass(frozen=True)
class OutboxEntry:
    """One stored notification. Times are Unix seconds.

    ``attempts`` counts delivery rounds: calls of the notifier's ``send``, each of which
    may make several HTTP requests.
    """

    notification_id: str
    body: bytes
    content_type: str
    state: OutboxState
    attempts: int
    last_error: str | None
    enqueued_at: float
    next_attempt_at: float
    finished_at: float | None


@dataclass(frozen=True)
class DrainResult:
    """Outcome counts of one pass over the due notifications."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0


class Outbox:
    """Store notifications durably and send each one until it is delivered or given up.

    Every state change is committed before the next request, with SQLite's write-ahead
    log and ``synchronous=FULL``, so it survives a process or power loss.
    """

    def __init__(
        self,
        path: Path,
        *,
        expiry_seconds: float = 3_600.0,
        retention_seconds: float = 7 * 86_400.0,
        retry_initial_delay_seconds: float = 0.5,
        max_retry_delay_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.path = Path(path)
        self.expiry_seconds = expiry_seconds
        self.retention_seconds = retention_seconds
        self.retry_initial_delay_seconds = retry_initial_delay_seconds
        self.max_retry_delay_seconds = max_retry_delay_seconds
        self._clock = clock
        self._rng = rng or random.Random()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.executescript(_SCHEMA)
        logger.info("alert outbox opened path=%s pending=%d", self.path, self.counts()["pending"])

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> Outbox:
        """Open the outbox file named in :class:`AlertSettings`."""
        return cls(
            settings.outbox_path,
            expiry_seconds=settings.outbox_expiry_seconds,
            retention_seconds=settings.outbox_retention_seconds,
            retry_initial_delay_seconds=settings.retry_initial_delay_seconds,
            max_retry_delay_seconds=settings.max_retry_delay_seconds,
        )

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the SQLite connection."""
        self._connection.close()

    def enqueue(self, notification_id: str, body: bytes, content_type: str = CONTENT_TYPE) -> bool:
        """Store a notification for sending unless its id is already stored.

        Returns:
            True when the notification is new, False when the id was already stored, in
            any state, in which case the stored body is kept and nothing is sent again.

        Raises:
            ValueError: ``notification_id`` is empty.
        """
        if not notification_id:
            raise ValueError("notification_id is empty; pass a stable id such as '<incident id>:<status>'")
        now = self._clock()
        cursor = self._connection.execute(
            "INSERT OR IGNORE INTO notification (notification_id, body, content_type, state, enqueued_at, next_attempt_at)"
            " VALUES (?, ?, ?, 'pending', ?, ?)",
            (notification_id, body, content_type, now, now),
        )
        added = cursor.rowcount == 1
        logger.debug("alert outbox enqueue notification_id=%s added=%s", notification_id, added)
        return added

    def get(self, notification_id: str) -> OutboxEntry | None:
        """Return one stored notification, or None when the id is unknown."""
        row = self._connection.execute(f"SELECT {_COLUMNS} FROM notification WHERE notification_id = ?", (notification_id,)).fetchone()
        return _entry(row) if row else None

    def due(self, limit: int = 100) -> list[OutboxEntry]:
        """Return pending notifications whose next attempt is due, oldest first."""
        rows = self._connection.execute(
            f"SELECT {_COLUMNS} FROM notification WHERE state = 'pending' AND next_attempt_at <= ?"
            " ORDER BY enqueued_at, notification_id LIMIT ?",
            (self._clock(), limit),
        ).fetchall()
        return [_entry(row) for row in rows]

    def counts(self) -> dict[OutboxState, int]:
        """Return the number of notifications in each state."""
        counts: dict[OutboxState, int] = {"pending": 0, "sent": 0, "failed": 0}
        for state, number in self._connection.execute("SELECT state, count(*) FROM notification GROUP BY state"):
            counts[state] = number
        return counts

    async def drain_once(self, notifier: Notifier, limit: int = 100) -> DrainResult:
        """Send the due notifications one by one and record each outcome.

        A transient failure leaves the notification pending with a backoff delay, unless
        it has waited longer than ``expiry_seconds`` since enqueue: then it is failed.
        """
        sent = failed = retrying = 0
        for entry in self.due(limit):
            retry, error = await notifier.send(entry.body, entry.notification_id)
            if error is None:
                self._finish(entry, "sent", None)
                sent += 1
            elif not retry or self._clock() - entry.enqueued_at >= self.expiry_seconds:
                self._finish(entry, "failed", str(error))
                failed += 1
                logger.error("alert notification given up notification_id=%s attempts=%d error=%s", entry.notification_id, entry.attempts + 1, error)
            else:
                self._postpone(entry, str(error))
                retrying += 1
        return DrainResult(sent=sent, failed=failed, retrying=retrying)

    async def drain(self, notifier: Notifier, stop: asyncio.Event, poll_interval_seconds: float = 1.0) -> None:
        """Call :meth:`drain_once` until ``stop`` is set, waiting ``poll_interval_seconds`` between passes."""
        logger.info("alert outbox drain started path=%s poll_interval_seconds=%s", self.path, poll_interval_seconds)
        while not stop.is_set():
            result = await self.drain_once(notifier)
            if result.sent or result.failed:
                logger.info("alert outbox pass sent=%d failed=%d retrying=%d", result.sent, result.failed, result.retrying)
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_interval_seconds)
            except asyncio.TimeoutError:
                pass
        logger.info("alert outbox drain stopped path=%s counts=%s", self.path, self.counts())

    def purge(self) -> int:
        """Delete sent and failed notifications older than ``retention_seconds``; return how many.

        A notification id enqueued again after its row was purged is sent again, so keep
        the retention longer than any replay window.
        """
        cutoff = self._clock() - self.retention_seconds
        cursor = self._connection.execute("DELETE FROM notification WHERE state != 'pending' AND finished_at < ?", (cutoff,))
        return cursor.rowcount

    def _finish(self, entry: OutboxEntry, state: OutboxState, error: str | None) -> None:
        self._connection.execute(
            "UPDATE notification SET state = ?, attempts = attempts + 1, last_error = ?, finished_at = ? WHERE notification_id = ?",
            (state, error, self._clock(), entry.notification_id),
        )

    def _postpone(self, entry: OutboxEntry, error: str) -> None:
        delay = backoff_delay(entry.attempts + 1, self.retry_initial_delay_seconds, self.max_retry_delay_seconds, self._rng)
        self._connection.execute(
            "UPDATE notification SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE notification_id = ?",
            (error, self._clock() + delay, entry.notification_id),
        )
        logger.warning("alert notification postponed notification_id=%s delay_seconds=%.2f error=%s", entry.notification_id, delay, error)


_COLUMNS = "notification_id, body, content_type, state, attempts, last_error, enqueued_at, next_attempt_at, finished_at"


def _entry(row: tuple[object, ...]) -> OutboxEntry:
    return OutboxEntry(*row)  # type: ignore[arg-type]
