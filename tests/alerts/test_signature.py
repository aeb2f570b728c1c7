"""Tests of webhook request signing and verification."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pipeline.alerts.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, signed_headers, verify

SECRET = b"s3cret"
BODY = b'{"version":"4"}'
NOW = 1_767_268_800


def test_sign_matches_hmac_of_timestamp_and_body() -> None:
    expected = hmac.new(SECRET, b"1767268800." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"sha256={expected}"


def test_signed_headers_names() -> None:
    headers = signed_headers(SECRET, NOW, BODY)
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers[SIGNATURE_HEADER].startswith("sha256=")


def test_verify_accepts_valid() -> None:
    verify(SECRET, BODY, str(NOW), sign(SECRET, NOW, BODY), now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "signature", "match"),
    [
        (SECRET, BODY + b" ", str(NOW), sign(SECRET, NOW, BODY), "does not match"),
        (b"other", BODY, str(NOW), sign(SECRET, NOW, BODY), "does not match"),
        (SECRET, BODY, str(NOW + 1), sign(SECRET, NOW, BODY), "does not match"),
        (SECRET, BODY, str(NOW - 301), sign(SECRET, NOW - 301, BODY), "beyond the tolerance"),
        (SECRET, BODY, str(NOW + 301), sign(SECRET, NOW + 301, BODY), "beyond the tolerance"),
        (SECRET, BODY, None, sign(SECRET, NOW, BODY), "missing"),
        (SECRET, BODY, str(NOW), None, "missing"),
        (SECRET, BODY, "yesterday", sign(SECRET, NOW, BODY), "expected Unix seconds"),
        (SECRET, BODY, str(NOW), "sha256=00", "does not match"),
    ],
    ids=["body-changed", "wrong-secret", "timestamp-changed", "stale", "future", "no-timestamp", "no-signature", "bad-timestamp", "bad-signature"],
)
def test_verify_rejects(secret: bytes, body: bytes, timestamp: str | None, signature: str | None, match: str) -> None:
    with pytest.raises(SignatureError, match=match):
        verify(secret, body, timestamp, signature, now=NOW)
