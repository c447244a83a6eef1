"""The money one account receives (R-PAY-1..7), and its journey through a channel."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import PayoutStatus
from settlement_core.model.account import DEFAULT_CHANNEL
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event
from settlement_core.model.values import PayoutSource
from settlement_core.money import Money, from_minor


class PayoutKind(enum.StrEnum):
    """Scheduled payouts come from statements and go out in releases; instant ones at once."""

    SCHEDULED = "scheduled"
    INSTANT = "instant"


@define(eq=False)
class Payout(Aggregate):
    """A payout in one currency, drawn from one or more balance currencies."""

    id: str
    tenant_id: str
    account_id: str
    key: str
    amount_minor: int
    currency: str
    sources: tuple[PayoutSource, ...]
    statement_ids: tuple[str, ...]
    created_at: datetime
    transaction_id: str
    method_ref: str | None = None
    status: PayoutStatus = PayoutStatus.CREATED
    attempts: int = 0
    approved_by: str | None = None
    kind: PayoutKind = PayoutKind.SCHEDULED
    channel: str = DEFAULT_CHANNEL
    release_id: str | None = None
    # Whether channel funds were set aside for it (its release was funded, or it is instant).
    funded: bool = False
    submitted_at: datetime | None = None
    next_attempt_at: datetime | None = None
    failure_code: str | None = None
    replaces: tuple[str, ...] = ()
    replaced_by: str | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """The amount the account receives."""
        return from_minor(self.amount_minor, self.currency)

    @property
    def channel_key(self) -> str:
        """The idempotency key the channel sees for the current attempt.

        Each attempt has its own key: a channel executes a key at most once, so
        a resend after a failure needs a new one, and a lost answer never does.
        """
        return f"{self.id}.{self.attempts}"

    def approve(self, at: datetime, approved_by: str) -> None:
        """An operator approves a manual payout (R-PAY-3)."""
        self._move("approve", at)
        self.approved_by = approved_by

    def submit(self, at: datetime) -> None:
        """Hand the payout to its channel."""
        self._move("submit", at)
        self.attempts += 1
        self.submitted_at = at

    def lose_track(self, at: datetime) -> None:
        """The channel gave no answer; the outcome is unknown until it is asked (R-REL-4)."""
        self._move("lose_track", at)

    def confirm(self, at: datetime) -> None:
        """The channel says it has the payout and is working on it."""
        self._move("confirm", at)

    def settle(self, at: datetime) -> None:
        """The channel confirmed the money arrived."""
        self._move("settle", at)

    def fail(self, at: datetime, code: str | None, next_attempt_at: datetime) -> None:
        """The channel reported a failure that may be retried at `next_attempt_at`."""
        self._move("fail", at)
        self.failure_code = code
        self.next_attempt_at = next_attempt_at

    def retry(self, at: datetime) -> None:
        """Submit a failed payout again, under a new idempotency key."""
        self._move("retry", at)
        self.attempts += 1
        self.submitted_at = at
        self.next_attempt_at = None

    def give_up(self, at: datetime, code: str | None = None) -> None:
        """Stop retrying; the money goes back to the balance (R-PAY-7)."""
        self._move("give_up", at)
        self.failure_code = code or self.failure_code
        self.next_attempt_at = None

    def cancel(self, at: datetime) -> None:
        """Withdraw a payout that was never submitted."""
        self._move("cancel", at)

    def mark_returned(self, at: datetime, code: str | None) -> None:
        """The receiving bank sent a paid payout back."""
        self._move("return", at)
        self.failure_code = code
