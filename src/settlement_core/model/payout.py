"""The money one account receives (R-PAY-1..5, R-PAY-7)."""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import PayoutStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event
from settlement_core.model.values import PayoutSource
from settlement_core.money import Money, from_minor


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
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """The amount the account receives."""
        return from_minor(self.amount_minor, self.currency)

    def approve(self, at: datetime, approved_by: str) -> None:
        """An operator approves a manual payout (R-PAY-3)."""
        self._move("approve", at)
        self.approved_by = approved_by

    def submit(self, at: datetime) -> None:
        """Hand the payout to its channel."""
        self._move("submit", at)
        self.attempts += 1

    def settle(self, at: datetime) -> None:
        """The channel confirmed the money arrived."""
        self._move("settle", at)

    def fail(self, at: datetime) -> None:
        """The channel reported a failure that may be retried."""
        self._move("fail", at)

    def retry(self, at: datetime) -> None:
        """Submit a failed payout again."""
        self._move("retry", at)
        self.attempts += 1

    def give_up(self, at: datetime) -> None:
        """Stop retrying; the money goes back to the balance (R-PAY-7)."""
        self._move("give_up", at)

    def cancel(self, at: datetime) -> None:
        """Withdraw a payout that was never submitted."""
        self._move("cancel", at)
