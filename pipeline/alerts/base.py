"""The notifier contract shared by the webhook notifier and the outbox."""

from __future__ import annotations

from typing import Protocol


class Notifier(Protocol):
    """Something that delivers one rendered notification body.

    ``send`` returns ``(retry, error)`` as Alertmanager's notifiers do: ``(False, None)``
    after a delivery, ``(False, error)`` when retrying cannot help (the receiver rejected
    the request), and ``(True, error)`` when a later attempt may succeed.
    """

    async def send(self, body: bytes, notification_id: str) -> tuple[bool, Exception | None]:
        """Deliver ``body``, identified by ``notification_id``, and return ``(retry, error)``."""
        ...
