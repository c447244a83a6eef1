"""Payout cycles: the local-calendar periods an account's items are summed over (R-CYC-1).

A cycle cuts time into half-open periods ``[start, end)`` whose boundaries are
local midnights in the account's time zone. Periods are counted in local days,
not fixed hours, so a period spanning a DST change is 23 or 25 hours longer or
shorter than its neighbours. All returned datetimes are in UTC.

How a local midnight becomes an instant: we build the wall-clock time
``date 00:00`` with ``fold=0`` and convert it to UTC through zoneinfo (the round
trip normalises it to a real instant). So

* an ambiguous midnight (clocks fall back *to* 00:00, e.g. America/Havana)
  maps to its first occurrence;
* a midnight that does not exist (clocks spring forward *at* 00:00, e.g.
  America/Santiago, Asia/Beirut) is read with the offset in force before the
  change, which lands exactly on the change: the day starts at 01:00 local;
* a skipped day (Pacific/Apia, 30 Dec 2011) yields the same instant as the next
  midnight, and no period ever starts on it.

The mapping from local date to boundary instant is therefore deterministic and
non-decreasing, and `Cycle.period_containing` locates an instant by comparing
instants (not by trusting its local date), which is what makes periods tile
time exactly even around odd transitions.
"""

from __future__ import annotations

import calendar as _calendar
import enum
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import field, frozen

from settlement_core.errors import InvalidRule, InvalidTimestamp, SettlementError
from settlement_core.rules.calendar import BusinessCalendar, next_business_day
from settlement_core.timestamps import require_aware

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_BIWEEKLY_EPOCH = date(2024, 1, 1)


class CycleKind(enum.Enum):
    """How often a cycle closes."""

    DAILY = "daily"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


def resolve_zone(tz: str | ZoneInfo) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name (or the zone itself); unknown names raise."""
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str):
        raise InvalidRule(f"time zone must be an IANA name, got {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidRule(f"unknown time zone {tz!r}") from exc


def _utc_start(value: datetime) -> datetime:
    return require_aware(value, "period start").astimezone(UTC)


def _utc_end(value: datetime) -> datetime:
    return require_aware(value, "period end").astimezone(UTC)


@frozen
class Period:
    """A half-open span of time ``[start, end)``, both ends stored in UTC."""

    start: datetime = field(converter=_utc_start)
    end: datetime = field(converter=_utc_end)

    def __attrs_post_init__(self) -> None:
        """Refuse empty or reversed periods."""
        if not self.start < self.end:
            raise InvalidTimestamp(
                f"period start {self.start.isoformat()} must be before its end "
                f"{self.end.isoformat()}"
            )

    def contains(self, instant: datetime) -> bool:
        """Return True if ``start <= instant < end``."""
        return self.start <= require_aware(instant, "instant") < self.end


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    # fold=0 (the default) picks the earlier reading of an ambiguous or missing
    # wall time; astimezone(UTC) turns it into a real instant. See module docstring.
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _month_start(year: int, month: int, anchor_day: int) -> date:
    # Short months start on their last day, so anchor 31 still gives one period per month.
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(anchor_day, last))


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _check_int(value: object, what: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRule(f"{what} must be an int from {low} to {high}, got {value!r}")


def _validate_kind(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, CycleKind):
        raise InvalidRule(f"cycle kind must be a CycleKind, got {value!r}")


def _validate_weekday(_instance: object, _attribute: object, value: Any) -> None:
    _check_int(value, "anchor_weekday (0=Monday)", 0, 6)


def _validate_day(_instance: object, _attribute: object, value: Any) -> None:
    _check_int(value, "anchor_day", 1, 31)


def _validate_epoch(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidRule(f"biweekly_epoch must be a date, got {type(value).__name__}")


@frozen
class Cycle:
    """A payout cycle: daily, weekly, biweekly or monthly, cut at local midnights."""

    kind: CycleKind = field(validator=_validate_kind)
    anchor_weekday: int = field(default=0, validator=_validate_weekday)
    anchor_day: int = field(default=1, validator=_validate_day)
    biweekly_epoch: date = field(default=DEFAULT_BIWEEKLY_EPOCH, validator=_validate_epoch)

    @classmethod
    def daily(cls) -> Cycle:
        """A cycle that closes every local midnight."""
        return cls(CycleKind.DAILY)

    @classmethod
    def weekly(cls, anchor_weekday: int = 0) -> Cycle:
        """A cycle whose periods start at local midnight of `anchor_weekday` (0=Monday)."""
        return cls(CycleKind.WEEKLY, anchor_weekday=anchor_weekday)

    @classmethod
    def biweekly(cls, anchor_weekday: int = 0, epoch: date = DEFAULT_BIWEEKLY_EPOCH) -> Cycle:
        """A two-week cycle on `anchor_weekday`, in step with the first such day from `epoch`."""
        return cls(CycleKind.BIWEEKLY, anchor_weekday=anchor_weekday, biweekly_epoch=epoch)

    @classmethod
    def monthly(cls, anchor_day: int = 1) -> Cycle:
        """A cycle whose periods start on `anchor_day` (or the month's last day if shorter)."""
        return cls(CycleKind.MONTHLY, anchor_day=anchor_day)

    def period_containing(self, instant: datetime, tz: str | ZoneInfo) -> Period:
        """Return the unique period ``[start, end)`` that holds `instant`, cut in zone `tz`."""
        instant = require_aware(instant, "instant")
        zone = resolve_zone(tz)
        try:
            day = self._local_day(instant, zone)
            first, after = self._dates_around(day)
            return Period(_day_start(first, zone), _day_start(after, zone))
        except SettlementError:
            raise
        except (OverflowError, ValueError) as exc:
            # Near datetime.min/max a neighbouring midnight is not representable.
            raise InvalidTimestamp(f"instant {instant.isoformat()} is out of range") from exc

    def next_boundary_after(self, instant: datetime, tz: str | ZoneInfo) -> datetime:
        """Return the smallest period boundary strictly after `instant`, in UTC."""
        # Periods tile time, so the end of the period holding `instant` is exactly that.
        return self.period_containing(instant, tz).end

    def describe(self) -> str:
        """Return a short human description, e.g. ``weekly on Monday``."""
        weekday = WEEKDAY_NAMES[self.anchor_weekday]
        if self.kind is CycleKind.DAILY:
            return "daily"
        if self.kind is CycleKind.WEEKLY:
            return f"weekly on {weekday}"
        if self.kind is CycleKind.BIWEEKLY:
            return f"biweekly on {weekday} (in step with {self._biweekly_origin().isoformat()})"
        return f"monthly on day {self.anchor_day}"

    @staticmethod
    def _local_day(instant: datetime, zone: ZoneInfo) -> date:
        # The local date whose [start, next start) holds the instant. Usually the
        # instant's own local date; the two loops correct it where a transition makes
        # local dates run backwards for a while (clocks falling back across midnight).
        utc = instant.astimezone(UTC)
        day = utc.astimezone(zone).date()
        while _day_start(day, zone) > utc:
            day -= timedelta(days=1)
        while _day_start(day + timedelta(days=1), zone) <= utc:
            day += timedelta(days=1)
        return day

    def _biweekly_origin(self) -> date:
        epoch = self.biweekly_epoch
        return epoch + timedelta(days=(self.anchor_weekday - epoch.weekday()) % 7)

    def _dates_around(self, day: date) -> tuple[date, date]:
        # The first local date of the period holding `day`, and the first date after it.
        if self.kind is CycleKind.DAILY:
            return day, day + timedelta(days=1)
        if self.kind is CycleKind.WEEKLY:
            first = day - timedelta(days=(day.weekday() - self.anchor_weekday) % 7)
            return first, first + timedelta(days=7)
        if self.kind is CycleKind.BIWEEKLY:
            origin = self._biweekly_origin()
            # Floor division keeps the grid aligned for dates before the epoch too.
            fortnights = (day - origin).days // 14
            first = origin + timedelta(days=14 * fortnights)
            return first, first + timedelta(days=14)
        this_month = _month_start(day.year, day.month, self.anchor_day)
        if day >= this_month:
            year, month = _shift_month(day.year, day.month, 1)
            return this_month, _month_start(year, month, self.anchor_day)
        year, month = _shift_month(day.year, day.month, -1)
        return _month_start(year, month, self.anchor_day), this_month


def payout_date(
    period: Period, tz: str | ZoneInfo, delay_days: int, calendar: BusinessCalendar
) -> date:
    """Return the local date the period's payout is due: end date + delay, on a business day."""
    if isinstance(delay_days, bool) or not isinstance(delay_days, int) or delay_days < 0:
        raise InvalidRule(f"delay_days must be an int >= 0, got {delay_days!r}")
    zone = resolve_zone(tz)
    # period.end is a local midnight, so its local date is already the first day after
    # the period: a delay of 0 pays on that day (or the next business day).
    try:
        due = period.end.astimezone(zone).date() + timedelta(days=delay_days)
    except OverflowError as exc:
        raise InvalidRule(f"delay_days {delay_days} takes the payout date out of range") from exc
    return next_business_day(due, calendar)
