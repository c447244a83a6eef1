"""Typed identifiers and the time-ordered id factory.

Ids are UUIDv7 strings: time-ordered (so keyset pagination and index locality
work), random in their low bits (so two deployments never mint the same id, a
known failure of per-process counters).
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import NewType, Protocol

from settlement_core.errors import InvalidIdentifier

AccountId = NewType("AccountId", str)
BillingItemId = NewType("BillingItemId", str)
StatementId = NewType("StatementId", str)
PayoutId = NewType("PayoutId", str)
ReleaseSummaryId = NewType("ReleaseSummaryId", str)
FundingId = NewType("FundingId", str)
TransactionId = NewType("TransactionId", str)
EventId = NewType("EventId", str)

MAX_EXTERNAL_ID_LENGTH = 128
_EXTERNAL_ID = re.compile(r"^[\x21-\x7e]+$")


class IdFactory(Protocol):
    """Mints new unique, time-ordered ids."""

    def new_id(self) -> str:
        """Return a fresh id, greater than every id this factory returned before."""
        ...


class UuidV7Factory:
    """UUIDv7 ids (RFC 9562): 48-bit millisecond time, then monotonic random bits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def new_id(self) -> str:
        """Return a new UUIDv7 string, strictly increasing within this factory."""
        with self._lock:
            millis = time.time_ns() // 1_000_000
            candidate = (millis << 74) | int.from_bytes(os.urandom(10), "big") >> 6
            # Same millisecond (or a clock step back): keep order by bumping the last value.
            value = candidate if candidate > self._last else self._last + 1
            self._last = value
        return _as_uuid7(value)


def _as_uuid7(value: int) -> str:
    # 74 ordered bits after the time: 12 go to rand_a, 62 to rand_b, around the fixed
    # version and variant bits, so string order equals numeric order.
    millis = value >> 74
    rand_a = value >> 62 & 0xFFF
    rand_b = value & ((1 << 62) - 1)
    number = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    text = f"{number:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def external_id(value: object, what: str) -> str:
    """Validate an identifier supplied by the host (shop id, order id, key)."""
    if not isinstance(value, str):
        raise InvalidIdentifier(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidIdentifier(f"{what} must not be empty")
    if len(value) > MAX_EXTERNAL_ID_LENGTH:
        raise InvalidIdentifier(
            f"{what} is {len(value)} characters long; at most {MAX_EXTERNAL_ID_LENGTH} allowed"
        )
    if not _EXTERNAL_ID.match(value):
        raise InvalidIdentifier(f"{what} {value!r} must be printable ASCII without spaces")
    return value
