"""Asynchronous webhook notifier: signed HTTP POST with retries and a redacted URL in logs."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from pipeline import __version__
from pipeline.alerts.message import CONTENT_TYPE
from pipeline.alerts.settings import AlertSettings
from pipeline.alerts.signature import NOTIFICATION_ID_HEADER, signed_headers
from pipeline.errors import QianliyanError

logger = logging.getLogger(__name__)

BODY_EXCERPT_BYTES = 512


class NotifyError(QianliyanError):
    """A webhook delivery attempt that failed.

    ``status`` is the HTTP status, or None when no response came (timeout, connection
    error). ``retry`` is True when a later attempt may succeed.
    """

    def __init__(self, message: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status


@dataclass
class NotifierStats:
    """Counters of one notifier, named by Prometheus conventions for a later exporter."""

    notification_requests_total: int = 0
    notification_requests_failed_total: int = 0
    notifications_delivered_total: int = 0
    notifications_failed_total: int = 0
    notification_latency_seconds_sum: float = 0.0


def redact_url(url: str) -> str:
    """Return ``scheme://host[:port]/...``: the URL without credentials, path or query.

    Chat and paging services put access tokens in the path or query, so only this form
    goes into logs and error messages.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}/..."


def backoff_delay(attempt: int, initial_seconds: float, max_seconds: float, rng: random.Random) -> float:
    """Return the wait after failed attempt number ``attempt`` (1-based), with jitter.

    The base delay doubles per attempt from ``initial_seconds`` up to ``max_seconds``, and
    the wait is drawn uniformly between half the base and the base, so that notifiers that
    failed together do not retry together.
    """
    base = min(max_seconds, initial_seconds * 2.0 ** (attempt - 1))
    return base / 2 + rng.uniform(0, base / 2)


class WebhookNotifier:
    """POST rendered notification bodies to one webhook URL.

    Timeouts, connection errors and HTTP 5xx are retried with capped exponential backoff
    up to ``max_attempts`` attempts. Any other status outside 2xx, including every 4xx and
    redirects (not followed), ends the delivery at once because the same request would be
    rejected again. With a secret, each request is signed as described in
    :mod:`pipeline.alerts.signature`, with a fresh timestamp per attempt.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout_ms: int = 10_000,
        max_attempts: int = 5,
        retry_initial_delay_seconds: float = 0.5,
        max_retry_delay_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._url = url
        self.redacted_url = redact_url(url)
        self._secret = secret.encode() if secret else None
        self.timeout_ms = timeout_ms
        self.max_attempts = max_attempts
        self.retry_initial_delay_seconds = retry_initial_delay_seconds
        self.max_retry_delay_seconds = max_retry_delay_seconds
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._last_logged_error = ""
        self.stats = NotifierStats()

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> WebhookNotifier:
        """Create a notifier from :class:`AlertSettings`.

        Raises:
            ValueError: ``settings.webhook_url`` is not set.
        """
        if settings.webhook_url is None:
            raise ValueError("webhook_url is not set; set QIANLIYAN_ALERTS__WEBHOOK_URL to enable alert webhooks")
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        return cls(
            settings.webhook_url.get_secret_value(),
            secret=secret,
            timeout_ms=settings.timeout_ms,
            max_attempts=settings.max_attempts,
            retry_initial_delay_seconds=settings.retry_initial_delay_seconds,
            max_retry_delay_seconds=settings.max_retry_delay_seconds,
        )

    async def __aenter__(self) -> WebhookNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, body: bytes, notification_id: str) -> tuple[bool, NotifyError | None]:
        """Deliver one body, retrying transient failures, and return ``(retry, error)``.

        ``retry`` is True only when every attempt failed with a transient error, so that a
        caller such as the outbox can try again later.
        """
        started = time.monotonic()
        error: NotifyError | None = None
        for attempt in range(1, self.max_attempts + 1):
            retry, error = await self.post(body, notification_id)
            if error is None:
                self.stats.notifications_delivered_total += 1
                self.stats.notification_latency_seconds_sum += time.monotonic() - started
                self._last_logged_error = ""
                logger.debug("webhook delivered notification_id=%s url=%s attempts=%d", notification_id, self.redacted_url, attempt)
                return False, None
            if not retry:
                break
            if attempt < self.max_attempts:
                delay = backoff_delay(attempt, self.retry_initial_delay_seconds, self.max_retry_delay_seconds, self._rng)
                self._log_retry(notification_id, attempt, delay, error)
                await self._sleep(delay)

        self.stats.notifications_failed_total += 1
        assert error is not None
        logger.error(
            "webhook delivery failed notification_id=%s url=%s retry=%s error=%s",
            notification_id, self.redacted_url, error.retry, error,
        )
        return error.retry, error

    async def post(self, body: bytes, notification_id: str) -> tuple[bool, NotifyError | None]:
        """Make one POST attempt and return ``(retry, error)``, ``(False, None)`` on HTTP 2xx."""
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": f"qianliyan/{__version__}",
            NOTIFICATION_ID_HEADER: notification_id,
        }
        if self._secret is not None:
            headers.update(signed_headers(self._secret, int(self._clock()), body))

        self.stats.notification_requests_total += 1
        error = await self._request(body, headers)
        if error is not None:
            self.stats.notification_requests_failed_total += 1
            return error.retry, error
        return False, None

    async def _request(self, body: bytes, headers: dict[str, str]) -> NotifyError | None:
        session = self._open_session()
        timeout = aiohttp.ClientTimeout(total=self.timeout_ms / 1000)
        try:
            async with session.post(self._url, data=body, headers=headers, timeout=timeout, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return None
                excerpt = (await response.content.read(BODY_EXCERPT_BYTES)).decode(errors="replace")
                return NotifyError(
                    f"webhook {self.redacted_url} responded with HTTP {response.status}: {excerpt!r}",
                    retry=response.status >= 500,
                    status=response.status,
                )
        except asyncio.TimeoutError:
            return NotifyError(f"webhook {self.redacted_url} timed out after {self.timeout_ms} ms", retry=True)
        except aiohttp.ClientError as exc:
            reason = str(exc).replace(self._url, self.redacted_url)
            return NotifyError(f"webhook {self.redacted_url} request failed: {type(exc).__name__}: {reason}", retry=True)

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _log_retry(self, notification_id: str, attempt: int, delay: float, error: NotifyError) -> None:
        # Repeats of the same error are logged at debug, so a long outage does not flood the log.
        text = str(error)
        level = logging.DEBUG if text == self._last_logged_error else logging.WARNING
        self._last_logged_error = text
        logger.log(
            level,
            "webhook attempt failed, retrying notification_id=%s url=%s attempt=%d max_attempts=%d delay_seconds=%.2f error=%s",
            notification_id, self.redacted_url, attempt, self.max_attempts, delay, text,
        )
