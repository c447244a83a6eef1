"""When to ask a channel again, and when to resend a failed payout (R-PAY-7, R-REL-4)."""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import frozen

from settlement_core.errors import InvalidRule


@frozen(kw_only=True)
class ChannelPolicy:
    """Retry and polling timings shared by every channel.

    A failed payout that may be retried is sent again after `backoff`, doubling
    per attempt up to `backoff_cap`, until `max_attempts` submissions failed;
    then it fails for good and its money returns to the balance. Payouts with
    no answer are polled once they are `poll_after` old. A channel saying it
    never received a payout is believed only after `not_found_after`, so a
    submission still on its way is not mistaken for a lost one.
    """

    max_attempts: int = 3
    backoff: timedelta = timedelta(minutes=15)
    backoff_cap: timedelta = timedelta(days=1)
    poll_after: timedelta = timedelta(minutes=15)
    not_found_after: timedelta = timedelta(hours=1)

    def __attrs_post_init__(self) -> None:
        if type(self.max_attempts) is not int or self.max_attempts < 1:
            raise InvalidRule("max_attempts must be a positive integer")
        for name in ("backoff", "backoff_cap", "poll_after", "not_found_after"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise InvalidRule(f"{name} must be a positive timedelta, got {value!r}")
        if self.backoff_cap < self.backoff:
            raise InvalidRule(
                f"backoff_cap ({self.backoff_cap}) is shorter than backoff ({self.backoff})"
            )

    def may_retry(self, attempts: int) -> bool:
        """Whether a payout that failed on its `attempts`-th submission may be sent again."""
        return attempts < self.max_attempts

    def next_attempt(self, attempts: int, failed_at: datetime) -> datetime:
        """When a payout that failed on its `attempts`-th submission is sent again."""
        doublings = max(0, attempts - 1)
        # Past the cap's ratio the doubled backoff would only overflow timedelta: use the cap.
        if doublings >= (self.backoff_cap // self.backoff).bit_length():
            return failed_at + self.backoff_cap
        delay: timedelta = min(self.backoff_cap, self.backoff * 2**doublings)
        return failed_at + delay
