"""Client of Alertmanager's v2 API: push alerts to ``/api/v2/alerts`` and read them back.

Pushing to Alertmanager is the alternative to webhooks for sites that already route,
group and silence alerts there. Alertmanager keeps a firing alert active until its
``endsAt`` passes. An alert posted without ``endsAt`` stays active for the configured
``resolve_timeout`` (5 minutes by default), so producers post firing alerts again at a
shorter interval, and post them with ``endsAt`` once resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

from pipeline.alerts.models import Alert
from pipeline.alerts.webhook import BODY_EXCERPT_BYTES, redact_url
from pipeline.errors import QianliyanError

logger = logging.getLogger(__name__)


class AlertmanagerError(QianliyanError):
    """Alertmanager rejected a request or could not be reached."""


def postable_alert(alert: Alert) -> dict[str, Any]:
    """Return one alert in the ``postableAlert`` form of Alertmanager's v2 API."""
    document: dict[str, Any] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": alert.starts_at.isoformat().replace("+00:00", "Z"),
    }
    if alert.ends_at is not None:
        document["endsAt"] = alert.ends_at.isoformat().replace("+00:00", "Z")
    if alert.generator_url:
        document["generatorURL"] = alert.generator_url
    return document


class AlertmanagerClient:
    """Talk to one Alertmanager at ``base_url`` (for example ``http://127.0.0.1:9093``)."""

    def __init__(self, base_url: str, *, timeout_ms: int = 10_000) -> None:
        self._base_url = base_url.rstrip("/")
        self.redacted_url = redact_url(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AlertmanagerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post_alerts(self, alerts: Sequence[Alert]) -> None:
        """Post alerts to ``/api/v2/alerts``.

        Raises:
            AlertmanagerError: Alertmanager responded with a status other than 200, or not at all.
        """
        if not alerts:
            return
        body = [postable_alert(alert) for alert in alerts]
        await self._request("POST", "/api/v2/alerts", json=body)
        logger.info("alerts posted to Alertmanager url=%s alerts=%d", self.redacted_url, len(alerts))

    async def get_alerts(self, *, active: bool = True, filters: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Return the alerts that Alertmanager holds, as ``gettableAlert`` documents.

        ``filters`` are label matchers such as ``alertname="GpuXid"``.

        Raises:
            AlertmanagerError: Alertmanager responded with a status other than 200, or not at all.
        """
        params: list[tuple[str, str]] = [("active", str(active).lower())]
        params.extend(("filter", matcher) for matcher in filters)
        document = await self._request("GET", "/api/v2/alerts", params=params)
        if not isinstance(document, list):
            raise AlertmanagerError(f"Alertmanager {self.redacted_url} returned {type(document).__name__} for GET /api/v2/alerts; expected a list")
        return document

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.request(method, self._base_url + path, timeout=self._timeout, **kwargs) as response:
                if response.status != 200:
                    excerpt = (await response.content.read(BODY_EXCERPT_BYTES)).decode(errors="replace")
                    raise AlertmanagerError(f"Alertmanager {self.redacted_url} rejected {method} {path} with HTTP {response.status}: {excerpt!r}")
                return await response.json(content_type=None)
        except TimeoutError as exc:
            raise AlertmanagerError(f"Alertmanager {self.redacted_url} timed out on {method} {path}") from exc
        except aiohttp.ClientError as exc:
            raise AlertmanagerError(f"Alertmanager {self.redacted_url} request {method} {path} failed: {type(exc).__name__}") from exc
