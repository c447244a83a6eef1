"""What every use case needs: storage, rules, time, ids and the outside world."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from attrs import frozen

from settlement_core.errors import InvalidTimestamp
from settlement_core.ids import IdFactory
from settlement_core.ports import BusinessCalendar, Clock, FxRates, UnitOfWork
from settlement_core.rules import RuleEngine

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
        moment = aware(instant, what)
        if moment > self.now() + CLOCK_SKEW:
            raise InvalidTimestamp(f"{what} {moment.isoformat()} is in the future")
        return moment


def aware(instant: object, what: str) -> datetime:
    """Check a value is a time-zone-aware datetime."""
    if not isinstance(instant, datetime):
        raise InvalidTimestamp(f"{what} must be a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidTimestamp(f"{what} {instant.isoformat()} has no time zone")
    return instant
