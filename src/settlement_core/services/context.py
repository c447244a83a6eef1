"""What every use case needs: storage, rules, time, ids and the outside world."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from attrs import field, frozen

from settlement_core.errors import ConcurrencyConflict, InvalidTimestamp, UnknownChannel
from settlement_core.ids import IdFactory
from settlement_core.ports import (
    BusinessCalendar,
    Clock,
    FxRates,
    Metrics,
    NoMetrics,
    PaymentChannel,
    UnitOfWork,
)
from settlement_core.rules import ChannelPolicy, RuleEngine
from settlement_core.timestamps import require_aware

T = TypeVar("T")

# Optimistic writes that lose a race are re-run this many times in all; with the
# doubling backoff below that is up to ~2.5 s of waiting, longer than any batch.
ATTEMPTS = 10

# Hosts' clocks drift; an instant this far ahead of ours is still accepted.
CLOCK_SKEW = timedelta(minutes=5)


@frozen
class Context:
    """The dependencies of the use cases, assembled once by the host's bootstrap."""

    uow: Callable[[], UnitOfWork]
    rules: RuleEngine
    clock: Clock
    ids: IdFactory
    fx: FxRates
    calendar: BusinessCalendar
    batch_size: int = 500
    channels: Mapping[str, PaymentChannel] = field(factory=dict)
    channel_policy: ChannelPolicy = field(factory=ChannelPolicy)
    metrics: Metrics = field(factory=NoMetrics)

    def now(self) -> datetime:
        """The current instant from the clock port."""
        return self.clock.now()

    def channel(self, name: str) -> PaymentChannel:
        """The channel registered under `name`, or UnknownChannel."""
        found = self.channels.get(name)
        if found is None:
            known = ", ".join(sorted(self.channels)) or "none"
            raise UnknownChannel(f"no payment channel named {name!r} (registered: {known})")
        return found

    def not_after_now(self, instant: object, what: str) -> datetime:
        """Check an instant is aware and not in the future (beyond clock skew)."""
        return not_after(instant, what, self.horizon())

    def horizon(self) -> datetime:
        """The latest instant a request may carry: now, plus the clock skew allowed."""
        return self.now() + CLOCK_SKEW


def not_after(instant: object, what: str, horizon: datetime) -> datetime:
    """Check an instant is aware and not after `horizon` (a batch reads the clock once)."""
    moment = require_aware(instant, what)
    if moment > horizon:
        raise InvalidTimestamp(f"{what} {moment.isoformat()} is in the future")
    return moment


def retrying(command: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run a unit of work again when it lost a race (ConcurrencyConflict).

    Safe because every command is idempotent: the re-run sees what the winner
    wrote (a replayed key, a closed statement) and acts on that.
    """
    for attempt in range(attempts - 1):
        try:
            return command()
        except ConcurrencyConflict:
            # Jittered backoff so two losers do not collide again in lockstep.
            time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
    return command()
