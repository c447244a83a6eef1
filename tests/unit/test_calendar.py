"""Business calendars, next business day and payout dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from settlement_core.errors import InvalidRule, InvalidTimestamp
from settlement_core.rules import (
    BusinessCalendar,
    Cycle,
    Period,
    WeekendCalendar,
    next_business_day,
    payout_date,
)

# March 2024: Fri 8, Sat 9, Sun 10, Mon 11, Tue 12.
FRIDAY = date(2024, 3, 8)
SATURDAY = date(2024, 3, 9)
SUNDAY = date(2024, 3, 10)
MONDAY = date(2024, 3, 11)
TUESDAY = date(2024, 3, 12)


class NeverOpen:
    """A calendar without any business day (misconfigured)."""

    def is_business_day(self, day: date) -> bool:
        """Always False."""
        return False


class TestWeekendCalendar:
    """The default Mon-Fri calendar with optional holidays and weekend."""

    def test_weekdays_are_business_days(self) -> None:
        """Monday to Friday are business days by default."""
        calendar = WeekendCalendar()
        assert calendar.is_business_day(MONDAY)
        assert calendar.is_business_day(FRIDAY)

    def test_saturday_and_sunday_are_not(self) -> None:
        """The default weekend is Saturday and Sunday."""
        calendar = WeekendCalendar()
        assert not calendar.is_business_day(SATURDAY)
        assert not calendar.is_business_day(SUNDAY)

    def test_holidays_are_not_business_days(self) -> None:
        """A listed holiday is closed."""
        calendar = WeekendCalendar(holidays=frozenset({MONDAY}))
        assert not calendar.is_business_day(MONDAY)
        assert calendar.is_business_day(TUESDAY)

    def test_custom_weekend(self) -> None:
        """A Friday-Saturday weekend makes Sunday a business day."""
        calendar = WeekendCalendar(weekend=frozenset({4, 5}))
        assert not calendar.is_business_day(FRIDAY)
        assert not calendar.is_business_day(SATURDAY)
        assert calendar.is_business_day(SUNDAY)

    def test_collections_are_frozen(self) -> None:
        """Lists and sets are stored as frozensets, so the calendar stays hashable."""
        calendar = WeekendCalendar(holidays=[MONDAY], weekend={5, 6})
        assert calendar.holidays == frozenset({MONDAY})
        assert calendar.weekend == frozenset({5, 6})
        assert hash(calendar) == hash(WeekendCalendar(holidays=frozenset({MONDAY})))

    @pytest.mark.parametrize("weekend", [frozenset({7}), frozenset({-1}), frozenset(range(7))])
    def test_invalid_weekend_is_refused(self, weekend: frozenset[int]) -> None:
        """Weekday numbers are 0..6 and at least one weekday must stay open."""
        with pytest.raises(InvalidRule, match="weekend"):
            WeekendCalendar(weekend=weekend)

    def test_datetime_holiday_is_refused(self) -> None:
        """A datetime would never match a date, so it is refused."""
        with pytest.raises(InvalidTimestamp):
            WeekendCalendar(holidays=frozenset({datetime(2024, 3, 11, tzinfo=UTC)}))

    def test_satisfies_the_business_calendar_protocol(self) -> None:
        """WeekendCalendar is a BusinessCalendar."""
        assert isinstance(WeekendCalendar(), BusinessCalendar)


class TestNextBusinessDay:
    """Moving a date forward to a business day."""

    def test_business_day_is_returned_as_is(self) -> None:
        """A business day is its own next business day."""
        assert next_business_day(FRIDAY, WeekendCalendar()) == FRIDAY

    def test_weekend_moves_to_monday(self) -> None:
        """Saturday and Sunday move to Monday."""
        assert next_business_day(SATURDAY, WeekendCalendar()) == MONDAY
        assert next_business_day(SUNDAY, WeekendCalendar()) == MONDAY

    def test_weekend_then_holiday_moves_to_tuesday(self) -> None:
        """A holiday Monday after a weekend moves to Tuesday."""
        calendar = WeekendCalendar(holidays=frozenset({MONDAY}))
        assert next_business_day(SATURDAY, calendar) == TUESDAY

    def test_year_end_holidays(self) -> None:
        """31 Dec 2027 (Fri) and 3 Jan 2028 (Mon) closed: the next business day is 4 Jan."""
        calendar = WeekendCalendar(holidays=frozenset({date(2027, 12, 31), date(2028, 1, 3)}))
        assert next_business_day(date(2027, 12, 31), calendar) == date(2028, 1, 4)

    def test_calendar_without_business_days_raises(self) -> None:
        """The search is bounded and fails with InvalidRule."""
        with pytest.raises(InvalidRule, match="no business day"):
            next_business_day(MONDAY, NeverOpen())

    def test_datetime_is_refused(self) -> None:
        """A datetime is not a date for calendar purposes."""
        with pytest.raises(InvalidTimestamp):
            next_business_day(datetime(2024, 3, 8, tzinfo=UTC), WeekendCalendar())


class TestPayoutDate:
    """Payout date: local end date of the period plus a delay, on a business day."""

    @staticmethod
    def period_of(day: date, zone: str = "Europe/Berlin") -> Period:
        """The daily period of a local date in `zone`."""
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        return Cycle.daily().period_containing(noon, zone)

    @pytest.mark.parametrize(
        ("delay", "expected"),
        [(0, FRIDAY), (1, MONDAY), (2, MONDAY), (3, MONDAY), (4, TUESDAY)],
    )
    def test_delays_across_a_weekend(self, delay: int, expected: date) -> None:
        """Thursday's period ends on Friday; delays landing on the weekend move to Monday."""
        period = self.period_of(date(2024, 3, 7))
        assert payout_date(period, "Europe/Berlin", delay, WeekendCalendar()) == expected

    @pytest.mark.parametrize(
        ("delay", "expected"),
        [(0, FRIDAY), (2, TUESDAY), (3, TUESDAY), (5, date(2024, 3, 13))],
    )
    def test_delays_across_a_weekend_and_a_holiday(self, delay: int, expected: date) -> None:
        """With Monday a holiday, weekend and holiday delays move to Tuesday."""
        calendar = WeekendCalendar(holidays=frozenset({MONDAY}))
        period = self.period_of(date(2024, 3, 7))
        assert payout_date(period, "Europe/Berlin", delay, calendar) == expected

    def test_period_ending_on_saturday_pays_monday(self) -> None:
        """Friday's period ends at Saturday's midnight; delay 0 pays on Monday."""
        period = self.period_of(FRIDAY)
        assert payout_date(period, "Europe/Berlin", 0, WeekendCalendar()) == MONDAY

    def test_uses_the_local_date_of_the_end(self) -> None:
        """In Kolkata the end (18:30 UTC the day before) is read as a local date."""
        period = self.period_of(date(2024, 3, 6), "Asia/Kolkata")
        assert period.end == datetime(2024, 3, 6, 18, 30, tzinfo=UTC)
        assert payout_date(period, "Asia/Kolkata", 0, WeekendCalendar()) == date(2024, 3, 7)

    def test_weekly_period_pays_after_its_last_day(self) -> None:
        """A Monday-anchored week ends on the next Monday, which is the payout day."""
        period = Cycle.weekly(0).period_containing(datetime(2024, 3, 6, tzinfo=UTC), "UTC")
        assert payout_date(period, "UTC", 0, WeekendCalendar()) == MONDAY

    @pytest.mark.parametrize("delay", [-1, True])
    def test_invalid_delay_is_refused(self, delay: int) -> None:
        """A negative (or boolean) delay raises InvalidRule."""
        with pytest.raises(InvalidRule, match="delay_days"):
            payout_date(self.period_of(FRIDAY), "UTC", delay, WeekendCalendar())
