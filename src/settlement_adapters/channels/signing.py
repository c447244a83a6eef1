"""Callback signing (R-SEC-1): an HMAC-SHA256 over timestamp, nonce and body, as Stripe does.

The signed bytes are f"{timestamp}.{nonce}.".encode() + body. The timestamp is
digits only and the nonce may not contain ".", so no two (timestamp, nonce, body)
triples sign the same bytes: nobody can move bytes between the nonce and the body
to mint a fresh nonce for a replayed callback.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from settlement_core.errors import (
    BadSignature,
    InvalidIdentifier,
    StaleCallback,
    ValidationError,
)
from settlement_core.timestamps import require_aware

TIMESTAMP_HEADER = "X-Settlement-Timestamp"
NONCE_HEADER = "X-Settlement-Nonce"
SIGNATURE_HEADER = "X-Settlement-Signature"
DEFAULT_TOLERANCE = timedelta(minutes=5)
MAX_NONCE_LENGTH = 128

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Printable ASCII without space (headers get trimmed) and without "." (the separator).
_NONCE = re.compile(rf"[\x21-\x2d\x2f-\x7e]{{1,{MAX_NONCE_LENGTH}}}")
# Up to 11 digits reaches past the year 5000; longer values only serve to overflow datetime.
_TIMESTAMP = re.compile(r"[0-9]{1,11}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


def sign(secret: bytes, body: bytes, timestamp: datetime, nonce: str) -> dict[str, str]:
    """The three headers that authenticate `body` as sent at `timestamp` with `nonce`."""
    _require_secrets([secret])
    require_aware(timestamp, "signing timestamp")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise InvalidIdentifier(
            f"nonce must be 1..{MAX_NONCE_LENGTH} printable ASCII characters without "
            f"spaces or dots, got {nonce!r}"
        )
    seconds = (timestamp - _EPOCH) // timedelta(seconds=1)
    if seconds < 0:
        raise ValidationError(f"cannot sign a timestamp before 1970: {timestamp.isoformat()}")
    return {
        TIMESTAMP_HEADER: str(seconds),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: _digest(secret, str(seconds), nonce, body),
    }


def verify(
    secrets: bytes | Sequence[bytes],
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> tuple[datetime, str]:
    """(sent_at, nonce) of a callback signed by any of `secrets` within `tolerance` of `now`."""
    keys = [secrets] if isinstance(secrets, bytes) else list(secrets)
    _require_secrets(keys)
    require_aware(now, "now")
    found = _lower_keys(headers)
    stamp = _header(found, TIMESTAMP_HEADER, _TIMESTAMP)
    nonce = _header(found, NONCE_HEADER, _NONCE)
    given = _header(found, SIGNATURE_HEADER, _SIGNATURE).lower()
    # Compare against every key, without stopping early, so timing says nothing about which.
    matches = [hmac.compare_digest(_digest(key, stamp, nonce, body), given) for key in keys]
    if not any(matches):
        raise BadSignature("callback signature does not match its body")
    sent_at = _EPOCH + timedelta(seconds=int(stamp))
    if abs(now - sent_at) > tolerance:
        raise StaleCallback(
            f"callback sent at {sent_at.isoformat()} is more than {tolerance} "
            f"away from {now.isoformat()}"
        )
    return sent_at, nonce


def _digest(secret: bytes, stamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret, f"{stamp}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()


def _require_secrets(keys: Sequence[object]) -> None:
    if not keys:
        raise ValidationError("at least one signing secret is needed")
    for key in keys:
        if not isinstance(key, bytes) or not key:
            raise ValidationError("signing secrets must be non-empty bytes")


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        # Two spellings of one header with different values: refuse rather than pick one.
        if lowered in found and found[lowered] != value:
            raise BadSignature(f"header {name} is given twice with different values")
        found[lowered] = value
    return found


def _header(found: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str:
    value = found.get(name.lower())
    if value is None:
        raise BadSignature(f"callback has no {name} header")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadSignature(f"callback header {name} is malformed")
    return value
