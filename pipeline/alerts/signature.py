"""HMAC-SHA256 signatures of webhook requests.

The sender puts the Unix time in seconds into ``X-Qianliyan-Timestamp`` and
``sha256=<hex>`` into ``X-Qianliyan-Signature``, where the HMAC key is the shared secret
and the signed bytes are the timestamp in ASCII, a dot, and the exact body bytes. Signing
the timestamp together with the body stops a captured request from being replayed later
with a fresh timestamp. A receiver recomputes the HMAC over the raw body before parsing
it, and rejects timestamps outside its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from pipeline.errors import QianliyanError

SIGNATURE_HEADER: Final = "X-Qianliyan-Signature"
TIMESTAMP_HEADER: Final = "X-Qianliyan-Timestamp"
NOTIFICATION_ID_HEADER: Final = "X-Qianliyan-Notification-Id"
SIGNATURE_PREFIX: Final = "sha256="
DEFAULT_TOLERANCE_SECONDS: Final = 300


class SignatureError(QianliyanError):
    """A webhook request whose signature or timestamp does not verify."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Return the ``X-Qianliyan-Signature`` value of a body sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def signed_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the timestamp and signature headers of one request."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: bytes,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check a request's signature and timestamp against the shared secret.

    Raises:
        SignatureError: a header is missing or malformed, the timestamp is more than
            ``tolerance_seconds`` away from ``now``, or the signature does not match.
    """
    if not timestamp_header or not signature_header:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header; the sender needs the shared secret")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise SignatureError(f"invalid {TIMESTAMP_HEADER} {timestamp_header[:32]!r}; expected Unix seconds") from None
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} {timestamp} is {now - timestamp:.0f} s from the receiver's clock, "
            f"beyond the tolerance of {tolerance_seconds:.0f} s; check both clocks"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature_header):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body; check that both sides use the same secret")
