"""Post each action to Grafana as an annotation, so the boards show what the pipeline did.

An annotation is a convenience: a failed post is logged and counted, never raised, and
``GrafanaAnnotator.schedule`` returns at once so the caller never waits for Grafana. The
annotations are organisation-wide (no dashboard id) with the tags ``qianliyan``, the
action kind and the status, so a board shows them through an annotation query on the tag
``qianliyan``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, Field, SecretStr, field_validator

from pipeline.alerts.webhook import redact_url
from pipeline.policy.models import ActionRequest, ActionResult

logger = logging.getLogger(__name__)


class GrafanaSettings(BaseModel):
    """Grafana that receives action annotations. Without a URL, no annotation is sent."""

    url: str | None = Field(default=None, description="Base URL of Grafana, such as http://127.0.0.1:3000; None disables annotations.")
    token: SecretStr | None = Field(default=None, description="Service account token sent as a bearer token.")
    timeout_ms: int = Field(default=5_000, ge=100, description="Timeout of one annotation request.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"grafana url must be an http or https URL with a host, got scheme {parts.scheme!r}; "
                "set QIANLIYAN_GRAFANA__URL to a URL such as http://127.0.0.1:3000"
            )
        return value.rstrip("/")


def annotation_body(action: ActionRequest, result: ActionResult | None = None) -> dict[str, Any]:
    """Return the JSON body of POST /api/annotations for an issued action or its result."""
    if result is None:
        status = "dry_run" if action.dry_run else "issued"
        moment = action.issued_at
        text = f"{action.kind} on {action.target} {status}: {action.reason}"
    else:
        status = result.status
        moment = result.applied_at
        text = f"{action.kind} on {action.target} {status}: {result.detail}"
    text += f" (incident {action.incident_id}, action {action.action_id})"
    return {"time": _milliseconds(moment), "tags": ["qianliyan", action.kind, status], "text": text}


class GrafanaAnnotator:
    """Post action annotations to Grafana's HTTP API in the background.

    Attributes:
        posted: Annotations that Grafana accepted.
        failed: Annotations that failed (HTTP error, timeout, connection error).
    """

    def __init__(self, settings: GrafanaSettings) -> None:
        self.settings = settings
        self.posted = 0
        self.failed = 0
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    @property
    def enabled(self) -> bool:
        """Whether a Grafana URL is configured."""
        return self.settings.url is not None

    def schedule(self, action: ActionRequest, result: ActionResult | None = None) -> None:
        """Start posting the annotation of an action or its result, and return at once.

        Call it from a coroutine on the running event loop, for example in the respond agent.
        """
        if not self.enabled:
            return
        task = asyncio.ensure_future(self.annotate(action, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def annotate(self, action: ActionRequest, result: ActionResult | None = None) -> bool:
        """Post the annotation of an action or its result and return whether Grafana accepted it."""
        if self.settings.url is None:
            return False
        body = annotation_body(action, result)
        try:
            session = self._client()
            async with session.post(f"{self.settings.url}/api/annotations", json=body, headers=self._headers()) as response:
                if response.status >= 300:
                    excerpt = (await response.text())[:200]
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status, message=excerpt,
                    )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.failed += 1
            logger.warning(
                "grafana annotation failed url=%s action_id=%s status=%s failed_total=%d error=%s",
                redact_url(self.settings.url), action.action_id, body["tags"][2], self.failed, _describe(exc),
            )
            return False
        self.posted += 1
        logger.debug("grafana annotation posted action_id=%s status=%s", action.action_id, body["tags"][2])
        return True

    async def close(self) -> None:
        """Wait for annotations in flight, then close the HTTP session."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout_ms / 1000)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _headers(self) -> dict[str, str]:
        if self.settings.token is None:
            return {}
        return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}


def _milliseconds(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1000))


def _describe(exc: BaseException) -> str:
    # aiohttp's messages can contain the full request URL, which may carry a token.
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}: {exc.message}"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return type(exc).__name__
