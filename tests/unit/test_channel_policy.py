"""Channel policy: when a failed payout may be sent again, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from settlement_core.errors import InvalidRule
from settlement_core.rules.channel_policy import ChannelPolicy

FAILED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DURATIONS = ("backoff", "backoff_cap", "poll_after", "not_found_after")


class TestDefaults:
    """The defaults are the documented ones."""

    def test_default_timings(self) -> None:
        """Three attempts, 15 minute backoff capped at a day, poll after 15 min, lost after 1h."""
        policy = ChannelPolicy()
        assert policy.max_attempts == 3
        assert policy.backoff == timedelta(minutes=15)
        assert policy.backoff_cap == timedelta(days=1)
        assert policy.poll_after == timedelta(minutes=15)
        assert policy.not_found_after == timedelta(hours=1)


class TestMayRetry:
    """A payout may be sent again while fewer than max_attempts submissions failed."""

    @pytest.mark.parametrize(("attempts", "expected"), [(1, True), (2, True), (3, False)])
    def test_boundary_at_max_attempts(self, attempts: int, expected: bool) -> None:
        """With three attempts allowed, the third failure is final."""
        assert ChannelPolicy(max_attempts=3).may_retry(attempts) is expected

    def test_more_failures_than_allowed_are_final(self) -> None:
        """A count beyond the maximum never allows another attempt."""
        assert not ChannelPolicy(max_attempts=3).may_retry(4)

    def test_a_single_attempt_is_never_retried(self) -> None:
        """max_attempts=1 means the first failure is final."""
        assert not ChannelPolicy(max_attempts=1).may_retry(1)

    def test_a_larger_maximum_allows_more_attempts(self) -> None:
        """Raising max_attempts lets the third failure be retried."""
        assert ChannelPolicy(max_attempts=5).may_retry(3)
        assert not ChannelPolicy(max_attempts=5).may_retry(5)


class TestNextAttempt:
    """The backoff doubles per failed attempt and is capped."""

    @pytest.mark.parametrize(
        ("attempts", "delay"),
        [
            (1, timedelta(minutes=15)),
            (2, timedelta(minutes=30)),
            (3, timedelta(hours=1)),
            (4, timedelta(hours=2)),
        ],
    )
    def test_backoff_doubles_per_attempt(self, attempts: int, delay: timedelta) -> None:
        """After the n-th failure the wait is backoff * 2**(n-1)."""
        assert ChannelPolicy().next_attempt(attempts, FAILED_AT) == FAILED_AT + delay

    @pytest.mark.parametrize("attempts", [0, -3])
    def test_no_attempt_yet_waits_the_plain_backoff(self, attempts: int) -> None:
        """A count below one never shortens the wait under the backoff."""
        assert ChannelPolicy().next_attempt(attempts, FAILED_AT) == FAILED_AT + timedelta(
            minutes=15
        )

    @pytest.mark.parametrize(
        ("attempts", "delay"),
        [
            (2, timedelta(hours=2)),
            (3, timedelta(hours=3)),  # 4 hours, capped
            (4, timedelta(hours=3)),
            (30, timedelta(hours=3)),
        ],
    )
    def test_backoff_is_capped(self, attempts: int, delay: timedelta) -> None:
        """Once doubling passes backoff_cap, the wait is the cap."""
        policy = ChannelPolicy(backoff=timedelta(hours=1), backoff_cap=timedelta(hours=3))
        assert policy.next_attempt(attempts, FAILED_AT) == FAILED_AT + delay

    def test_a_doubling_that_lands_on_the_cap_is_kept(self) -> None:
        """A wait exactly equal to the cap is neither shortened nor lengthened."""
        policy = ChannelPolicy(backoff=timedelta(hours=1), backoff_cap=timedelta(hours=4))
        assert policy.next_attempt(3, FAILED_AT) == FAILED_AT + timedelta(hours=4)
        assert policy.next_attempt(4, FAILED_AT) == FAILED_AT + timedelta(hours=4)

    def test_a_cap_below_the_backoff_is_refused(self) -> None:
        """A cap shorter than the first wait is a configuration mistake, refused up front."""
        with pytest.raises(InvalidRule, match="backoff_cap"):
            ChannelPolicy(backoff=timedelta(hours=2), backoff_cap=timedelta(hours=1))

    @pytest.mark.parametrize("value", [900, 15.0, "PT15M", None])
    def test_a_duration_that_is_not_a_timedelta_is_refused(self, value: object) -> None:
        """Seconds as a number or a string are ambiguous: InvalidRule, not a TypeError later."""
        with pytest.raises(InvalidRule, match="poll_after"):
            ChannelPolicy(poll_after=value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("attempts", [40, 64, 1_000, 10**9])
    def test_many_attempts_are_capped_rather_than_overflowing(self, attempts: int) -> None:
        """A generous max_attempts never makes the doubled backoff overflow timedelta."""
        policy = ChannelPolicy(max_attempts=10**9)
        assert policy.next_attempt(attempts, FAILED_AT) == FAILED_AT + timedelta(days=1)

    def test_keeps_the_time_zone_of_the_failure(self) -> None:
        """The next attempt is an aware instant, the failure time plus the wait."""
        result = ChannelPolicy().next_attempt(1, FAILED_AT)
        assert result.tzinfo is not None
        assert result - FAILED_AT == timedelta(minutes=15)


class TestValidation:
    """Inconsistent policies are refused with InvalidRule."""

    @pytest.mark.parametrize("max_attempts", [0, -1])
    def test_max_attempts_must_be_positive(self, max_attempts: int) -> None:
        """At least one submission must be allowed."""
        with pytest.raises(InvalidRule, match="max_attempts"):
            ChannelPolicy(max_attempts=max_attempts)

    @pytest.mark.parametrize("max_attempts", [True, 2.0, "3"])
    def test_max_attempts_must_be_a_plain_int(self, max_attempts: object) -> None:
        """A bool, float or string count is refused, not coerced."""
        with pytest.raises(InvalidRule, match="max_attempts"):
            ChannelPolicy(max_attempts=max_attempts)  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", DURATIONS)
    @pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1)])
    def test_durations_must_be_positive(self, name: str, value: timedelta) -> None:
        """A zero or negative duration is refused, naming the field."""
        with pytest.raises(InvalidRule, match=name):
            ChannelPolicy(**{name: value})  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", DURATIONS)
    def test_tiny_positive_durations_are_accepted(self, name: str) -> None:
        """One microsecond is a valid duration (with a backoff no longer than its cap)."""
        tiny = timedelta(microseconds=1)
        extra = {"backoff": tiny} if name == "backoff_cap" else {}
        policy = ChannelPolicy(**{name: tiny, **extra})  # type: ignore[arg-type]
        assert getattr(policy, name) == tiny
