"""Properties of cycles: every instant lies in exactly one period and periods tile time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement_core.rules import Cycle

# Zones chosen for trouble: fractional offsets, southern-hemisphere DST, DST changes
# at midnight (Santiago, Havana, Beirut, historical Sao Paulo and Tehran), half-hour
# DST (Lord Howe), Ramadan DST (Casablanca) and whole skipped days (Apia, Kiritimati).
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "America/Sao_Paulo",
    "Asia/Tehran",
    "Australia/Lord_Howe",
    "Africa/Casablanca",
    "America/St_Johns",
    "Pacific/Apia",
    "Pacific/Kiritimati",
]

TICK = timedelta(microseconds=1)

cycles = st.one_of(
    st.just(Cycle.daily()),
    st.builds(Cycle.weekly, st.integers(0, 6)),
    st.builds(
        Cycle.biweekly,
        st.integers(0, 6),
        st.dates(min_value=date(1980, 1, 1), max_value=date(2070, 12, 31)),
    ),
    st.builds(Cycle.monthly, st.integers(1, 31)),
)
zones = st.sampled_from(ZONES)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2060, 12, 31),
    timezones=st.just(UTC),
)


class TestCycleProperties:
    """Invariants of period_containing and next_boundary_after for any cycle and zone."""

    @settings(max_examples=500, deadline=None)
    @given(cycle=cycles, zone=zones, instant=instants)
    def test_instant_lies_in_its_period(self, cycle: Cycle, zone: str, instant: datetime) -> None:
        """The period returned for an instant contains it, and its ends are UTC."""
        period = cycle.period_containing(instant, zone)
        assert period.contains(instant)
        assert period.start.tzinfo is UTC
        assert period.end.tzinfo is UTC

    @settings(max_examples=500, deadline=None)
    @given(cycle=cycles, zone=zones, instant=instants)
    def test_periods_tile_time(self, cycle: Cycle, zone: str, instant: datetime) -> None:
        """Each period ends where the next begins, and its edges map back to it."""
        first = cycle.period_containing(instant, zone)
        second = cycle.period_containing(first.end, zone)
        third = cycle.period_containing(second.end, zone)
        assert second.start == first.end
        assert third.start == second.end
        # No gap or overlap at either edge: the start is ours, the tick before it is not.
        assert cycle.period_containing(first.start, zone) == first
        assert cycle.period_containing(first.end - TICK, zone) == first
        assert cycle.period_containing(first.start - TICK, zone).end == first.start

    @settings(max_examples=500, deadline=None)
    @given(cycle=cycles, zone=zones, instant=instants)
    def test_next_boundary_is_the_period_end(
        self, cycle: Cycle, zone: str, instant: datetime
    ) -> None:
        """next_boundary_after(t) is the end of t's period, strictly after t."""
        boundary = cycle.next_boundary_after(instant, zone)
        assert boundary == cycle.period_containing(instant, zone).end
        assert boundary > instant

    @settings(max_examples=500, deadline=None)
    @given(cycle=cycles, zone=zones, instant=instants)
    def test_period_length_is_plausible(self, cycle: Cycle, zone: str, instant: datetime) -> None:
        """A period lasts between 23 hours and 32 days."""
        period = cycle.period_containing(instant, zone)
        assert timedelta(hours=23) <= period.end - period.start <= timedelta(days=32)

    @settings(max_examples=500, deadline=None)
    @given(cycle=cycles, zone=zones, instant=instants)
    def test_boundaries_are_local_midnights_or_transitions(
        self, cycle: Cycle, zone: str, instant: datetime
    ) -> None:
        """A boundary is a local midnight, or the instant a clock change skipped midnight."""
        tz = ZoneInfo(zone)
        start = cycle.period_containing(instant, zone).start
        wall = start.astimezone(tz)
        if wall.hour or wall.minute or wall.second or wall.microsecond:
            # Midnight did not exist that day: the offset changes exactly at the boundary.
            assert (start - TICK).astimezone(tz).utcoffset() != wall.utcoffset()
