"""Cycles and periods: local-midnight boundaries in many zones, DST days, month ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from settlement_core.errors import InvalidRule, InvalidTimestamp
from settlement_core.rules import (
    Cycle,
    CycleKind,
    Period,
    WeekendCalendar,
    payout_date,
    resolve_zone,
)
from settlement_core.services.statements import Periods

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware wall-clock datetime in `zone`."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def local_dates(period: Period, zone: str) -> tuple[date, date]:
    """The local dates of a period's start and end."""
    tz = ZoneInfo(zone)
    return period.start.astimezone(tz).date(), period.end.astimezone(tz).date()


class TestPeriod:
    """The half-open period value."""

    def test_ends_are_stored_in_utc(self) -> None:
        """Aware datetimes in any zone are normalised to UTC."""
        period = Period(local("Asia/Kolkata", 2024, 1, 1), local("Asia/Kolkata", 2024, 1, 2))
        assert period.start == utc(2023, 12, 31, 18, 30)
        assert period.start.tzinfo is UTC
        assert period.end.tzinfo is UTC

    def test_naive_start_is_refused(self) -> None:
        """A naive datetime raises InvalidTimestamp."""
        with pytest.raises(InvalidTimestamp):
            Period(datetime(2024, 1, 1), utc(2024, 1, 2))

    def test_empty_or_reversed_period_is_refused(self) -> None:
        """Start must be strictly before end."""
        with pytest.raises(InvalidTimestamp):
            Period(utc(2024, 1, 1), utc(2024, 1, 1))
        with pytest.raises(InvalidTimestamp):
            Period(utc(2024, 1, 2), utc(2024, 1, 1))

    def test_contains_is_half_open(self) -> None:
        """The start belongs to the period, the end does not."""
        period = Period(utc(2024, 1, 1), utc(2024, 1, 2))
        assert period.contains(utc(2024, 1, 1))
        assert period.contains(utc(2024, 1, 2) - TICK)
        assert not period.contains(utc(2024, 1, 2))
        assert not period.contains(utc(2024, 1, 1) - TICK)

    def test_contains_refuses_naive_instants(self) -> None:
        """A naive instant raises InvalidTimestamp."""
        period = Period(utc(2024, 1, 1), utc(2024, 1, 2))
        with pytest.raises(InvalidTimestamp):
            period.contains(datetime(2024, 1, 1, 12))


class TestResolveZone:
    """Time zone names."""

    def test_name_resolves_to_zoneinfo(self) -> None:
        """An IANA name gives its ZoneInfo."""
        assert resolve_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")

    def test_zoneinfo_passes_through(self) -> None:
        """A ZoneInfo is returned as it is."""
        zone = ZoneInfo("Asia/Kolkata")
        assert resolve_zone(zone) is zone

    @pytest.mark.parametrize(
        "name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "utc "]
    )
    def test_unknown_names_raise_invalid_rule(self, name: str) -> None:
        """Unknown or malformed names raise InvalidRule."""
        with pytest.raises(InvalidRule, match="time zone"):
            resolve_zone(name)


class TestCycleValidation:
    """Cycle construction and description."""

    @pytest.mark.parametrize("weekday", [-1, 7, True])
    def test_anchor_weekday_out_of_range_is_refused(self, weekday: int) -> None:
        """anchor_weekday must be 0..6."""
        with pytest.raises(InvalidRule, match="anchor_weekday"):
            Cycle.weekly(weekday)

    @pytest.mark.parametrize("day", [0, 32, -5])
    def test_anchor_day_out_of_range_is_refused(self, day: int) -> None:
        """anchor_day must be 1..31."""
        with pytest.raises(InvalidRule, match="anchor_day"):
            Cycle.monthly(day)

    def test_epoch_must_be_a_date(self) -> None:
        """A datetime epoch is refused."""
        with pytest.raises(InvalidRule, match="epoch"):
            Cycle.biweekly(0, datetime(2024, 1, 1, tzinfo=UTC))

    def test_kind_must_be_a_cycle_kind(self) -> None:
        """A bare string kind is refused."""
        with pytest.raises(InvalidRule, match="kind"):
            Cycle("daily")  # type: ignore[arg-type]

    def test_convenience_constructors_set_the_kind(self) -> None:
        """Each constructor builds its kind."""
        assert Cycle.daily().kind is CycleKind.DAILY
        assert Cycle.weekly(3).anchor_weekday == 3
        assert Cycle.biweekly(2, date(2025, 1, 1)).biweekly_epoch == date(2025, 1, 1)
        assert Cycle.monthly(15).anchor_day == 15

    def test_cycles_are_hashable_values(self) -> None:
        """Equal cycles hash equal."""
        assert {Cycle.weekly(1), Cycle.weekly(1)} == {Cycle(CycleKind.WEEKLY, anchor_weekday=1)}

    @pytest.mark.parametrize(
        ("cycle", "text"),
        [
            (Cycle.daily(), "daily"),
            (Cycle.weekly(0), "weekly on Monday"),
            (Cycle.weekly(6), "weekly on Sunday"),
            (Cycle.biweekly(2), "biweekly on Wednesday (in step with 2024-01-03)"),
            (Cycle.monthly(31), "monthly on day 31"),
        ],
    )
    def test_describe_reads_naturally(self, cycle: Cycle, text: str) -> None:
        """describe() gives a short human text."""
        assert cycle.describe() == text


class TestDailyPeriods:
    """Daily periods run from local midnight to local midnight."""

    def test_utc_day(self) -> None:
        """In UTC a day is midnight to midnight UTC."""
        period = Cycle.daily().period_containing(utc(2024, 3, 5, 13), "UTC")
        assert period == Period(utc(2024, 3, 5), utc(2024, 3, 6))

    @pytest.mark.parametrize("zone", ZONES)
    def test_ordinary_day_starts_at_local_midnight(self, zone: str) -> None:
        """On a day without a DST change the period is 24 local hours from midnight."""
        period = Cycle.daily().period_containing(local(zone, 2024, 6, 15, 12), zone)
        tz = ZoneInfo(zone)
        assert period.start.astimezone(tz) == local(zone, 2024, 6, 15)
        assert period.end.astimezone(tz) == local(zone, 2024, 6, 16)
        assert period.end - period.start == 24 * HOUR
        assert period.start.tzinfo is UTC

    def test_kolkata_half_hour_offset(self) -> None:
        """Asia/Kolkata (+05:30) days start at 18:30 UTC the evening before."""
        period = Cycle.daily().period_containing(utc(2024, 1, 1, 3), "Asia/Kolkata")
        assert period == Period(utc(2023, 12, 31, 18, 30), utc(2024, 1, 1, 18, 30))

    def test_chatham_quarter_hour_offset(self) -> None:
        """Pacific/Chatham (+12:45 in winter) days start at 11:15 UTC the day before."""
        period = Cycle.daily().period_containing(utc(2024, 6, 15), "Pacific/Chatham")
        assert period == Period(utc(2024, 6, 14, 11, 15), utc(2024, 6, 15, 11, 15))

    @pytest.mark.parametrize("zone", ZONES)
    def test_instant_on_boundary_belongs_to_the_period_starting_there(self, zone: str) -> None:
        """A boundary instant starts a period; one tick earlier is the previous one."""
        boundary = local(zone, 2024, 6, 15).astimezone(UTC)
        cycle = Cycle.daily()
        assert cycle.period_containing(boundary, zone).start == boundary
        assert cycle.period_containing(boundary - TICK, zone).end == boundary

    def test_year_boundary_in_berlin(self) -> None:
        """New Year's Eve in Berlin ends at 23:00 UTC."""
        cycle = Cycle.daily()
        last = cycle.period_containing(
            local("Europe/Berlin", 2024, 12, 31, 23, 59), "Europe/Berlin"
        )
        assert last == Period(utc(2024, 12, 30, 23), utc(2024, 12, 31, 23))
        first = cycle.period_containing(utc(2024, 12, 31, 23), "Europe/Berlin")
        assert local_dates(first, "Europe/Berlin") == (date(2025, 1, 1), date(2025, 1, 2))

    @pytest.mark.parametrize(
        ("zone", "day", "hours"),
        [
            ("Europe/Berlin", date(2024, 3, 31), 23),
            ("Europe/Berlin", date(2024, 10, 27), 25),
            ("America/New_York", date(2024, 3, 10), 23),
            ("America/New_York", date(2024, 11, 3), 25),
            ("Pacific/Chatham", date(2024, 9, 29), 23),
            ("Pacific/Chatham", date(2024, 4, 7), 25),
            ("America/Santiago", date(2024, 9, 8), 23),
            ("America/Santiago", date(2024, 4, 6), 25),
            ("Asia/Kolkata", date(2024, 3, 31), 24),
        ],
    )
    def test_dst_change_days_are_23_or_25_hours(self, zone: str, day: date, hours: int) -> None:
        """A local day spanning a DST change is shorter or longer than 24 hours."""
        noon = local(zone, day.year, day.month, day.day, 12)
        period = Cycle.daily().period_containing(noon, zone)
        assert period.end - period.start == hours * HOUR
        assert period.contains(noon)

    def test_santiago_missing_midnight_starts_the_day_at_one(self) -> None:
        """Santiago springs forward at 00:00, so the day starts at 01:00 local (04:00 UTC)."""
        zone = "America/Santiago"
        period = Cycle.daily().period_containing(local(zone, 2024, 9, 8, 12), zone)
        assert period.start == utc(2024, 9, 8, 4)
        assert period.start.astimezone(ZoneInfo(zone)).time() == time(1)
        before = Cycle.daily().period_containing(utc(2024, 9, 8, 4) - TICK, zone)
        assert before.end == period.start
        assert local_dates(before, zone)[0] == date(2024, 9, 7)

    def test_santiago_fall_back_day_is_25_hours(self) -> None:
        """Santiago falls back at 00:00, repeating 23:00-24:00 of 6 April 2024."""
        zone = "America/Santiago"
        period = Cycle.daily().period_containing(utc(2024, 4, 7, 3, 30), zone)
        assert period == Period(utc(2024, 4, 6, 3), utc(2024, 4, 7, 4))

    def test_havana_ambiguous_midnight_uses_its_first_occurrence(self) -> None:
        """Havana falls back from 01:00 to 00:00; the day starts at the first midnight."""
        zone = "America/Havana"
        period = Cycle.daily().period_containing(utc(2024, 11, 3, 4, 30), zone)
        assert period == Period(utc(2024, 11, 3, 4), utc(2024, 11, 4, 5))
        # The second 00:00 (05:00 UTC) is inside the same 25-hour day.
        assert period.contains(utc(2024, 11, 3, 5))

    def test_skipped_day_in_apia_yields_no_empty_period(self) -> None:
        """Samoa skipped 30 Dec 2011; the 29th's period ends where the 31st's starts."""
        zone = "Pacific/Apia"
        before = Cycle.daily().period_containing(utc(2011, 12, 30, 9), zone)
        after = Cycle.daily().period_containing(utc(2011, 12, 30, 10), zone)
        assert before.end == after.start == utc(2011, 12, 30, 10)
        assert local_dates(before, zone)[0] == date(2011, 12, 29)
        assert local_dates(after, zone)[0] == date(2011, 12, 31)

    def test_naive_instant_is_refused(self) -> None:
        """A naive instant raises InvalidTimestamp."""
        with pytest.raises(InvalidTimestamp):
            Cycle.daily().period_containing(datetime(2024, 1, 1), "UTC")

    def test_unknown_zone_is_refused(self) -> None:
        """An unknown zone raises InvalidRule."""
        with pytest.raises(InvalidRule):
            Cycle.daily().period_containing(utc(2024, 1, 1), "Nowhere/Land")

    def test_instant_given_in_another_zone_is_compared_as_an_instant(self) -> None:
        """The instant's own zone does not matter, only the cycle's zone."""
        instant = local("Asia/Kolkata", 2024, 1, 2, 1)  # 2024-01-01 19:30 UTC
        assert Cycle.daily().period_containing(instant, "UTC").start == utc(2024, 1, 1)


class TestWeeklyPeriods:
    """Weekly periods start at local midnight of the anchor weekday."""

    def test_monday_anchor_in_utc(self) -> None:
        """A Wednesday belongs to the week starting the Monday before."""
        period = Cycle.weekly(0).period_containing(utc(2024, 3, 6, 12), "UTC")
        assert period == Period(utc(2024, 3, 4), utc(2024, 3, 11))

    def test_sunday_anchor(self) -> None:
        """With a Sunday anchor a Wednesday belongs to the week from the Sunday before."""
        period = Cycle.weekly(6).period_containing(utc(2024, 3, 6, 12), "UTC")
        assert period == Period(utc(2024, 3, 3), utc(2024, 3, 10))

    def test_anchor_day_itself_starts_a_new_period(self) -> None:
        """Local midnight on the anchor weekday opens the period."""
        monday = local("America/New_York", 2024, 3, 4).astimezone(UTC)
        cycle = Cycle.weekly(0)
        assert cycle.period_containing(monday, "America/New_York").start == monday
        assert cycle.period_containing(monday - TICK, "America/New_York").end == monday

    @pytest.mark.parametrize(
        ("zone", "inside", "hours"),
        [
            ("Europe/Berlin", date(2024, 3, 27), 7 * 24 - 1),
            ("Europe/Berlin", date(2024, 10, 23), 7 * 24 + 1),
            ("America/New_York", date(2024, 11, 1), 7 * 24 + 1),
            ("America/Santiago", date(2024, 9, 5), 7 * 24 - 1),
            ("Asia/Kolkata", date(2024, 3, 27), 7 * 24),
        ],
    )
    def test_weeks_with_a_dst_change(self, zone: str, inside: date, hours: int) -> None:
        """A week containing a DST change is one hour shorter or longer."""
        instant = local(zone, inside.year, inside.month, inside.day, 12)
        period = Cycle.weekly(0).period_containing(instant, zone)
        assert period.end - period.start == hours * HOUR

    def test_week_across_the_year_boundary(self) -> None:
        """The week holding 1 Jan 2025 (a Wednesday) starts Monday 30 Dec 2024."""
        zone = "Pacific/Chatham"
        period = Cycle.weekly(0).period_containing(local(zone, 2025, 1, 1, 9), zone)
        assert local_dates(period, zone) == (date(2024, 12, 30), date(2025, 1, 6))


class TestBiweeklyPeriods:
    """Biweekly periods are two weeks long, aligned on the epoch."""

    def test_aligned_on_the_epoch(self) -> None:
        """With the default epoch (Monday 1 Jan 2024) periods start on 1 Jan, 15 Jan..."""
        cycle = Cycle.biweekly(0)
        assert cycle.period_containing(utc(2024, 1, 10), "UTC") == Period(
            utc(2024, 1, 1), utc(2024, 1, 15)
        )
        assert cycle.period_containing(utc(2024, 1, 15), "UTC") == Period(
            utc(2024, 1, 15), utc(2024, 1, 29)
        )

    def test_dates_before_the_epoch_follow_the_same_grid(self) -> None:
        """The grid extends backwards from the epoch."""
        period = Cycle.biweekly(0).period_containing(utc(2023, 12, 25), "UTC")
        assert period == Period(utc(2023, 12, 18), utc(2024, 1, 1))

    def test_anchor_weekday_after_the_epoch_weekday(self) -> None:
        """Anchor Wednesday with epoch Monday 1 Jan 2024 aligns on Wednesday 3 Jan."""
        cycle = Cycle.biweekly(2)
        assert cycle.period_containing(utc(2024, 1, 2), "UTC") == Period(
            utc(2023, 12, 20), utc(2024, 1, 3)
        )
        assert cycle.period_containing(utc(2024, 1, 3), "UTC") == Period(
            utc(2024, 1, 3), utc(2024, 1, 17)
        )

    def test_custom_epoch_shifts_the_grid_by_a_week(self) -> None:
        """An epoch one week later gives the other fortnight."""
        cycle = Cycle.biweekly(0, date(2024, 1, 8))
        period = cycle.period_containing(utc(2024, 1, 10), "UTC")
        assert period == Period(utc(2024, 1, 8), utc(2024, 1, 22))

    def test_kolkata_fortnight_is_exactly_fourteen_days(self) -> None:
        """Without DST a fortnight is 336 hours, starting at 18:30 UTC."""
        period = Cycle.biweekly(0).period_containing(utc(2024, 3, 20), "Asia/Kolkata")
        assert period == Period(utc(2024, 3, 10, 18, 30), utc(2024, 3, 24, 18, 30))

    def test_santiago_fortnight_with_missing_midnight(self) -> None:
        """A Santiago fortnight spanning the spring change is 335 hours."""
        zone = "America/Santiago"
        period = Cycle.biweekly(0).period_containing(local(zone, 2024, 9, 8, 12), zone)
        assert period.end - period.start == 14 * 24 * HOUR - HOUR
        assert local_dates(period, zone) == (date(2024, 8, 26), date(2024, 9, 9))


class TestMonthlyPeriods:
    """Monthly periods start on the anchor day, or on the last day of shorter months."""

    def test_first_of_month_in_utc(self) -> None:
        """Anchor 1 gives calendar months."""
        period = Cycle.monthly(1).period_containing(utc(2024, 2, 15), "UTC")
        assert period == Period(utc(2024, 2, 1), utc(2024, 3, 1))

    @pytest.mark.parametrize(
        ("instant", "start", "end"),
        [
            (utc(2024, 2, 10), utc(2024, 1, 31), utc(2024, 2, 29)),
            (utc(2024, 2, 29, 12), utc(2024, 2, 29), utc(2024, 3, 31)),
            (utc(2025, 2, 27), utc(2025, 1, 31), utc(2025, 2, 28)),
            (utc(2025, 2, 28), utc(2025, 2, 28), utc(2025, 3, 31)),
            (utc(2024, 4, 29), utc(2024, 3, 31), utc(2024, 4, 30)),
            (utc(2024, 4, 30), utc(2024, 4, 30), utc(2024, 5, 31)),
        ],
    )
    def test_anchor_31_uses_the_last_day_of_short_months(
        self, instant: datetime, start: datetime, end: datetime
    ) -> None:
        """Anchor 31 gives Jan 31, Feb 29 (2024) or Feb 28 (2025), Mar 31, Apr 30..."""
        assert Cycle.monthly(31).period_containing(instant, "UTC") == Period(start, end)

    @pytest.mark.parametrize(
        ("anchor", "instant", "start", "end"),
        [
            (29, utc(2024, 2, 29), utc(2024, 2, 29), utc(2024, 3, 29)),
            (29, utc(2024, 2, 28), utc(2024, 1, 29), utc(2024, 2, 29)),
            (29, utc(2025, 2, 28), utc(2025, 2, 28), utc(2025, 3, 29)),
            (30, utc(2024, 2, 29), utc(2024, 2, 29), utc(2024, 3, 30)),
            (30, utc(2024, 2, 28), utc(2024, 1, 30), utc(2024, 2, 29)),
            (30, utc(2025, 3, 1), utc(2025, 2, 28), utc(2025, 3, 30)),
        ],
    )
    def test_leap_day_with_anchor_29_and_30(
        self, anchor: int, instant: datetime, start: datetime, end: datetime
    ) -> None:
        """Feb 29 2024 starts the period for anchors 29 and 30; Feb 28 does in 2025."""
        assert Cycle.monthly(anchor).period_containing(instant, "UTC") == Period(start, end)

    def test_year_boundary(self) -> None:
        """Anchor 15 spans December into January."""
        period = Cycle.monthly(15).period_containing(utc(2025, 1, 10), "UTC")
        assert period == Period(utc(2024, 12, 15), utc(2025, 1, 15))

    def test_new_years_eve_in_new_york_is_still_december(self) -> None:
        """23:30 on 31 Dec in New York (04:30 UTC on 1 Jan) is in December's period."""
        zone = "America/New_York"
        period = Cycle.monthly(1).period_containing(utc(2025, 1, 1, 4, 30), zone)
        assert local_dates(period, zone) == (date(2024, 12, 1), date(2025, 1, 1))
        assert period.end == utc(2025, 1, 1, 5)

    @pytest.mark.parametrize(
        ("zone", "month", "hours"),
        [
            ("Europe/Berlin", 3, 31 * 24 - 1),
            ("Europe/Berlin", 10, 31 * 24 + 1),
            ("America/New_York", 11, 30 * 24 + 1),
            ("America/Santiago", 9, 30 * 24 - 1),
            ("Pacific/Chatham", 4, 30 * 24 + 1),
            ("Asia/Kolkata", 3, 31 * 24),
        ],
    )
    def test_months_with_a_dst_change(self, zone: str, month: int, hours: int) -> None:
        """A month holding a DST change is one hour shorter or longer."""
        period = Cycle.monthly(1).period_containing(local(zone, 2024, month, 15), zone)
        assert period.end - period.start == hours * HOUR
        assert local_dates(period, zone)[0] == date(2024, month, 1)


class TestNextBoundaryAfter:
    """The next boundary is the end of the period holding the instant."""

    def test_mid_period_gives_the_period_end(self) -> None:
        """Inside a period the next boundary is its end."""
        boundary = Cycle.weekly(0).next_boundary_after(utc(2024, 3, 6), "Europe/Berlin")
        assert boundary == utc(2024, 3, 10, 23)
        assert boundary.tzinfo is UTC

    def test_on_a_boundary_gives_the_following_one(self) -> None:
        """The result is strictly after the instant."""
        cycle = Cycle.daily()
        assert cycle.next_boundary_after(utc(2024, 3, 6), "UTC") == utc(2024, 3, 7)

    def test_naive_instant_is_refused(self) -> None:
        """A naive instant raises InvalidTimestamp."""
        with pytest.raises(InvalidTimestamp):
            Cycle.daily().next_boundary_after(datetime(2024, 3, 6), "UTC")

    def test_out_of_range_instant_raises_invalid_timestamp(self) -> None:
        """An instant at the edge of datetime's range raises a typed error."""
        with pytest.raises(InvalidTimestamp):
            Cycle.monthly(1).next_boundary_after(datetime.max.replace(tzinfo=UTC), "UTC")


class TestPeriodsOfOneCommand:
    """The periods a command remembers answer as the cycle itself does."""

    @pytest.mark.parametrize(
        "cycle", [Cycle.daily(), Cycle.weekly(2), Cycle.biweekly(), Cycle.monthly(31)]
    )
    @pytest.mark.parametrize("zone", ["UTC", "America/Santiago", "Pacific/Apia"])
    def test_remembered_periods_are_the_cycles_periods(self, cycle: Cycle, zone: str) -> None:
        """Instants spread over more periods than are kept, in a shuffled order."""
        tz = resolve_zone(zone)
        periods = Periods(WeekendCalendar())
        instants = [utc(2011, 12, 1) + timedelta(hours=7 * n) for n in range(400)]
        instants = instants[::3] + instants[1::3] + instants[2::3]
        for instant in instants:
            assert periods.natural(cycle, tz, instant) == cycle.period_containing(instant, tz)

    def test_payout_dates_are_the_rules_dates(self) -> None:
        """Each period end, zone and delay gets the date payout_date gives it."""
        calendar = WeekendCalendar(holidays=[date(2025, 3, 10)])
        periods = Periods(calendar)
        tz = resolve_zone("Europe/Berlin")
        for day in range(1, 15):
            period = Cycle.daily().period_containing(utc(2025, 3, day, 12), tz)
            for delay in (0, 1, 3):
                pay_on, payable_at = periods.due(period, tz, delay)
                assert pay_on == payout_date(period, tz, delay, calendar)
                assert payable_at == datetime.combine(pay_on, time(0), tzinfo=tz).astimezone(UTC)
