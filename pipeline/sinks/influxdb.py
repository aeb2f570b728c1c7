"""Asynchronous InfluxDB writer with batching and retries, for the v2 write API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import aiohttp
from influxdb_client import Point
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException

from pipeline.errors import QianliyanError
from pipeline.metrics import PipelineMetrics
from pipeline.settings import InfluxDBSettings

logger = logging.getLogger(__name__)

# HTTP statuses that mean the points themselves are bad: retrying the same body cannot help.
REJECTED_STATUSES = frozenset({400, 422})
FIRST_RETRY_DELAY_SECONDS = 0.5
# Log a retry that fails the same way again every this many attempts, so that a long wait shows.
RETRY_LOG_EVERY = 10


class PointsRejectedError(QianliyanError):
    """InfluxDB rejected the body of a write request (HTTP 400 or 422)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"InfluxDB rejected the write with HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class InfluxWriter:
    """Write points to one InfluxDB bucket.

    Transient failures are retried with capped exponential backoff until the write
    succeeds, so the caller's Kafka offsets stay uncommitted meanwhile. They are timeouts,
    connection errors, HTTP 429 and 5xx, and also 401, 403 and 404, which an operator can
    fix while the worker waits. Points that InfluxDB rejects raise :class:`PointsRejectedError`.
    """

    def __init__(self, settings: InfluxDBSettings, metrics: PipelineMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self._client: InfluxDBClientAsync | None = None

    async def start(self) -> None:
        """Open the HTTP client."""
        self._client = InfluxDBClientAsync(
            url=self.settings.url,
            token=self.settings.token.get_secret_value(),
            org=self.settings.org,
            timeout=self.settings.timeout_ms,
        )
        logger.info("InfluxDB writer started url=%s bucket=%s org=%s", self.settings.url, self.settings.bucket, self.settings.org)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def write(self, points: Sequence[Point]) -> None:
        """Write points in requests of at most ``batch_size`` points each.

        Raises:
            PointsRejectedError: InfluxDB rejected a request's points.
        """
        size = self.settings.batch_size
        for start in range(0, len(points), size):
            await self._write_with_retry(points[start : start + size])

    async def _write_with_retry(self, points: Sequence[Point]) -> None:
        delay = FIRST_RETRY_DELAY_SECONDS
        attempt = 1
        last_error = ""
        while True:
            try:
                await self._write_once(points)
            except PointsRejectedError:
                raise
            except (ApiException, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                error = _describe(exc)
                if error != last_error or attempt % RETRY_LOG_EVERY == 0:
                    logger.warning(
                        "InfluxDB write failed, retrying bucket=%s points=%d attempt=%d retry_in_seconds=%.1f error=%s",
                        self.settings.bucket, len(points), attempt, delay, error,
                    )
                    last_error = error
                if self.metrics is not None:
                    self.metrics.write_retries.inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.max_retry_delay_seconds)
                attempt += 1
            else:
                if attempt > 1:
                    logger.info("InfluxDB write succeeded after retries bucket=%s attempts=%d", self.settings.bucket, attempt)
                return

    async def _write_once(self, points: Sequence[Point]) -> None:
        if self._client is None:
            raise RuntimeError("InfluxWriter.start() must be awaited before write()")
        started = time.perf_counter()
        try:
            await self._client.write_api().write(bucket=self.settings.bucket, record=list(points))
        except ApiException as exc:
            if exc.status in REJECTED_STATUSES:
                body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
                raise PointsRejectedError(int(exc.status), body) from exc
            raise
        elapsed = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.write_latency.observe(elapsed)
            self.metrics.points_written.inc(len(points))
        logger.debug("InfluxDB write bucket=%s points=%d elapsed_ms=%.1f", self.settings.bucket, len(points), elapsed * 1000)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
        return f"HTTP {exc.status} {body.strip()[:200]}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
