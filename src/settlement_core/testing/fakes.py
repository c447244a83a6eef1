"""Deterministic stand-ins for the outside world: a settable clock, fixed rates, a recorder.

Pure standard library, so demos and simulations may use them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from settlement_core.errors import FxRateUnavailable, InvalidAmount, InvalidTimestamp
from settlement_core.model import FxQuote
from settlement_core.ports import CATALOGUE, OutboxMessage


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise InvalidTimestamp("ManualClock needs a time-zone-aware start")
        self._now = start

    def now(self) -> datetime:
        """The instant the clock was last set to."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Move the clock to `instant` (never backwards)."""
        if instant.tzinfo is None:
            raise InvalidTimestamp("ManualClock.set needs a time-zone-aware instant")
        if instant < self._now:
            raise InvalidTimestamp("ManualClock cannot go backwards")
        self._now = instant

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new instant."""
        self.set(self._now + delta)
        return self._now


class SequentialIds:
    """Ids from a counter, as UUID strings that sort in creation order (repeatable runs).

    For tests and simulations only: production ids must be random (UuidV7Factory).
    """

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def new_id(self) -> str:
        """The next id."""
        value = self._next
        self._next += 1
        return str(uuid.UUID(int=value))


class StaticFxRates:
    """Fixed rates, e.g. {("EUR", "USD"): Decimal("1.0842")}; inverse pairs are derived."""

    def __init__(self, rates: Mapping[tuple[str, str], Decimal], source: str = "static") -> None:
        for pair, rate in rates.items():
            if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
                raise InvalidAmount(f"rate for {pair} must be a positive finite Decimal")
        self._rates = dict(rates)
        self._source = source

    def quote(self, base: str, quote: str, at: datetime) -> FxQuote:
        """The table's rate for the pair, or the inverse of its reverse."""
        if (base, quote) in self._rates:
            rate = self._rates[(base, quote)]
        elif (quote, base) in self._rates:
            rate = Decimal(1) / self._rates[(quote, base)]
        else:
            raise FxRateUnavailable(f"no rate from {base} to {quote}")
        return FxQuote(base=base, quote=quote, rate=rate, as_of=at, source=self._source)


class RecordingPublisher:
    """An event publisher that keeps what it was given, and can be told to fail."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []
        self.fail_next = False

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Keep the messages, or raise once if `fail_next` is set."""
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("bus unavailable")
        self.messages.extend(messages)


class RecordingMetrics:
    """A Metrics port that keeps every count, and refuses names and labels off the catalogue."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}

    def count(self, name: str, value: int = 1, labels: Mapping[str, str] | None = None) -> None:
        """Add to the total of (name, labels)."""
        if name not in CATALOGUE:
            raise AssertionError(f"{name!r} is not in the metrics catalogue")
        given = tuple(sorted((labels or {}).items()))
        if {k for k, _ in given} != set(CATALOGUE[name][1]) or value < 0:
            raise AssertionError(f"bad count {name} {value} {given}")
        key = (name, given)
        self.totals[key] = self.totals.get(key, 0) + value

    def total(self, name: str, **labels: str) -> int:
        """The sum over every label set that includes `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, given), v in self.totals.items() if n == name and wanted <= set(given))
