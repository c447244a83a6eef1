"""Business-day calendars: which local dates a payout may land on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable

from attrs import field, frozen

from settlement_core.errors import InvalidRule, InvalidTimestamp

# A year and a day: any real calendar has a business day within a year, so running
# out means the calendar is misconfigured (every day a holiday), not that we must wait.
MAX_SEARCH_DAYS = 366

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@runtime_checkable
class BusinessCalendar(Protocol):
    """Tells whether a local date is a business day (banks settle on it)."""

    def is_business_day(self, day: date) -> bool:
        """Return True if payouts may be executed on `day`."""
        ...


def _plain_date(value: object, what: str) -> date:
    # datetime is a subclass of date but never equal to one, so a datetime in a
    # holiday set would silently never match: refuse it outright.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidTimestamp(f"{what} must be a date, got {type(value).__name__}")
    return value


def _holidays(value: Iterable[date]) -> frozenset[date]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule("holidays must be a collection of dates")
    return frozenset(_plain_date(day, "a holiday") for day in value)


def _weekend(value: Iterable[int]) -> frozenset[int]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule("weekend must be a collection of weekday numbers (0=Monday..6=Sunday)")
    days = frozenset(value)
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise InvalidRule(f"weekend day {day!r} must be an int 0 (Monday) .. 6 (Sunday)")
    if len(days) == len(_WEEKDAY_NAMES):
        raise InvalidRule("weekend must leave at least one business weekday")
    return days


@frozen
class WeekendCalendar:
    """Business days are the weekdays outside `weekend` (default Sat, Sun) minus `holidays`."""

    holidays: frozenset[date] = field(default=frozenset(), converter=_holidays)
    weekend: frozenset[int] = field(default=frozenset({5, 6}), converter=_weekend)

    def is_business_day(self, day: date) -> bool:
        """Return True if `day` is neither a weekend day nor a holiday."""
        day = _plain_date(day, "day")
        return day.weekday() not in self.weekend and day not in self.holidays


def next_business_day(day: date, calendar: BusinessCalendar) -> date:
    """Return `day` if it is a business day, else the first business day after it."""
    day = _plain_date(day, "day")
    for offset in range(MAX_SEARCH_DAYS + 1):
        try:
            candidate = day + timedelta(days=offset)
        except OverflowError:
            break
        if calendar.is_business_day(candidate):
            return candidate
    raise InvalidRule(f"no business day within {MAX_SEARCH_DAYS} days after {day.isoformat()}")
