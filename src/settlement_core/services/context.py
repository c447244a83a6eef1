"""What every use case needs: storage, rules, time, ids and the outside world."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from attrs import frozen

from settlement_core.errors import InvalidTimestamp
from settlement_core.ids import IdFactory
from settlement_core.ports import BusinessCalendar, Clock, FxRates, UnitOfWork
from settlement_core.rules import RuleEngine
from settlement_core.timestamps import require_aware

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

    def now(self) -> datetime:
        """The current instant from the clock port."""
        return self.clock.now()

    def not_after_now(self, instant: object, what: str) -> datetime:
        """Check an instant is aware and not in the future (beyond clock skew)."""
        moment = require_aware(instant, what)
        if moment > self.now() + CLOCK_SKEW:
            raise InvalidTimestamp(f"{what} {moment.isoformat()} is in the future")
        return moment
