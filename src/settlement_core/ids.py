"""Typed identifiers and the time-ordered id factory.

Ids are UUIDv7 strings: time-ordered (so keyset pagination and index locality
work), random in their low bits (so two deployments never mint the same id, a
known failure of per-process counters).
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
import weakref
from collections.abc import Sequence
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
_ID_CHARS = r"[\x21-\x7e]"
_EXTERNAL_ID = re.compile(f"{_ID_CHARS}+")


class IdFactory(Protocol):
    """Mints new unique, time-ordered ids."""

    def new_id(self) -> str:
        """Return a fresh id, greater than every id this factory returned before."""
        ...


# Random bytes are read from the OS for this many ids at once: one read each cost
# more than the rest of minting an id.
_POOL_IDS = 64
_RANDOM_BYTES = 10


class UuidV7Factory:
    """UUIDv7 ids (RFC 9562): 48-bit millisecond time, then monotonic random bits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._pool = b""
        self._at = 0
        self._millis = -1
        self._head = ""
        _factories.add(self)

    def new_id(self) -> str:
        """Return a new UUIDv7 string, strictly increasing within this factory."""
        with self._lock:
            at = self._at
            if at >= len(self._pool):
                self._pool = os.urandom(_POOL_IDS * _RANDOM_BYTES)
                at = 0
            self._at = at + _RANDOM_BYTES
            random_bits = int.from_bytes(self._pool[at : at + _RANDOM_BYTES], "big") >> 6
            candidate = (time.time_ns() // 1_000_000) << 74 | random_bits
            # Same millisecond (or a clock step back): keep order by bumping the last value.
            value = candidate if candidate > self._last else self._last + 1
            self._last = value
            # The time part is written out once per millisecond, not once per id.
            millis = value >> 74
            if millis != self._millis:
                self._millis, self._head = millis, _time_head(millis)
            head = self._head
        return head + _random_tail(value)

    def _forget_pool(self) -> None:
        # A forked child must not mint the ids its parent mints: not from the same
        # bytes, nor by bumping the same last id within a millisecond (a random leap).
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0
        self._last += 1 + int.from_bytes(os.urandom(_RANDOM_BYTES // 2), "big")


_factories: weakref.WeakSet[UuidV7Factory] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for factory in list(_factories):
        factory._forget_pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _time_head(millis: int) -> str:
    """The first 48 bits (the millisecond) as the id's leading "xxxxxxxx-xxxx-"."""
    text = (millis & ((1 << 48) - 1)).to_bytes(6, "big").hex()
    return f"{text[:8]}-{text[8:]}-"


_VERSION_AND_VARIANT = 0x7 << 76 | 0b10 << 62


def _random_tail(value: int) -> str:
    """The version, rand_a, variant and rand_b of the id as "7xxx-xxxx-xxxxxxxxxxxx"."""
    # 74 ordered bits after the time: 12 go to rand_a, 62 to rand_b, around the fixed
    # version and variant bits, so string order equals numeric order.
    rand_a = value >> 62 & 0xFFF
    rand_b = value & ((1 << 62) - 1)
    text = (rand_a << 64 | rand_b | _VERSION_AND_VARIANT).to_bytes(10, "big").hex()
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


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
    # fullmatch: `$` would let a trailing newline through.
    if not _EXTERNAL_ID.fullmatch(value):
        raise InvalidIdentifier(f"{what} {value!r} must be printable ASCII without spaces")
    return value


@functools.cache
def _joined(count: int) -> re.Pattern[str]:
    one = f"{_ID_CHARS}{{1,{MAX_EXTERNAL_ID_LENGTH}}}"
    return re.compile(f"{one}(?: {one}){{{count - 1}}}")


def external_ids(values: Sequence[object], whats: Sequence[str]) -> None:
    """Validate several host identifiers, as `external_id` does each (the first bad one raises)."""
    # Ids cannot hold a space, so joined by spaces they are checked in one match;
    # only a request with a bad id pays for the checks one by one that name it.
    try:
        joined: str | None = " ".join(values)  # type: ignore[arg-type]
    except TypeError:
        joined = None
    if joined is not None and _joined(len(values)).fullmatch(joined) is not None:
        return
    for value, what in zip(values, whats, strict=True):
        external_id(value, what)
