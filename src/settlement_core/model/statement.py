"""One account's bill for one cycle in one currency (R-CYC-1, R-CYC-2, R-PAY-1)."""

from __future__ import annotations

from datetime import date, datetime

from attrs import define, field

from settlement_core.lifecycle import StatementStatus
from settlement_core.model.base import Aggregate, status_changed
from settlement_core.model.events import Event, StatementTotalMismatch
from settlement_core.money import Money, from_minor
from settlement_core.rules import PayoutRule, Period


@define(eq=False)
class Statement(Aggregate):
    """Sums an account's items for a period; its lines show what was brought and carried.

    The rule in force when the statement opened is kept on it, so a rule change
    applies from the next cycle.
    """

    id: str
    tenant_id: str
    account_id: str
    currency: str
    period: Period
    rule: PayoutRule
    payout_date: date
    payable_at: datetime
    opened_at: datetime
    total_minor: int = 0
    item_count: int = 0
    status: StatementStatus = StatementStatus.OPEN
    closed_at: datetime | None = None
    recount_minor: int | None = None
    brought_forward_minor: int | None = None
    carried_forward_minor: int | None = None
    payout_id: str | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def total(self) -> Money:
        """The running total of the statement's items."""
        return from_minor(self.total_minor, self.currency)

    @property
    def has_mismatch(self) -> bool:
        """Whether the close-time recount disagreed with the running total."""
        return self.recount_minor is not None and self.recount_minor != self.total_minor

    @property
    def is_open(self) -> bool:
        """Whether items may still be booked on this statement."""
        return self.status is StatementStatus.OPEN

    def book(self, amount_minor: int) -> None:
        """Add one item's amount to the running total (only while open)."""
        if not self.is_open:
            # Reaching here is a bug in the caller: items of a closed period go to the next one.
            raise AssertionError(f"statement {self.id} is {self.status.value}")
        self.total_minor += amount_minor
        self.item_count += 1

    def close(self, at: datetime, recount_minor: int) -> None:
        """Close the period and compare the running total with a full recount (R-CYC-2)."""
        self._move("close", at)
        self.closed_at = at
        self.recount_minor = recount_minor
        mismatch = _mismatch(self.tenant_id, self.id, self.total_minor, recount_minor, at)
        if mismatch is not None:
            self.events.append(mismatch)

    @staticmethod
    def closed_in_bulk(
        tenant_id: str,
        statement_id: str,
        source: StatementStatus,
        dest: StatementStatus,
        total_minor: int,
        recount_minor: int,
        at: datetime,
    ) -> list[Event]:
        """The events `close` records, for a statement storage closed in a bulk write.

        `source` and `dest` are the lifecycle's for "close" (asked once per bulk
        write); the events are the ones `close` would have recorded.
        """
        events: list[Event] = [
            status_changed("Statement", statement_id, tenant_id, "close", source, dest, at)
        ]
        mismatch = _mismatch(tenant_id, statement_id, total_minor, recount_minor, at)
        if mismatch is not None:
            events.append(mismatch)
        return events

    def carry_forward(self, at: datetime, brought_minor: int, balance_minor: int) -> None:
        """Keep the balance for a later cycle (threshold, hold, debt) and show it as a line."""
        self._move("carry_forward", at)
        self.brought_forward_minor = brought_minor
        self.carried_forward_minor = balance_minor

    def pay_out(self, at: datetime, payout_id: str, brought_minor: int | None) -> None:
        """Mark the statement paid by `payout_id`; a carried one keeps its earlier lines."""
        if self.status is StatementStatus.CLOSED:
            self.brought_forward_minor = brought_minor
            self.carried_forward_minor = 0
        self._move("pay_out", at)
        self.payout_id = payout_id

    def return_to_balance(self, at: datetime) -> None:
        """Its payout's money came back; the next payout of the account pays it again.

        `payout_id` keeps naming the payout that failed until another one pays it.
        """
        self._move("return_to_balance", at)


def _mismatch(
    tenant_id: str, statement_id: str, running_minor: int, recount_minor: int, at: datetime
) -> StatementTotalMismatch | None:
    if recount_minor == running_minor:
        return None
    return StatementTotalMismatch(
        tenant_id=tenant_id,
        at=at,
        statement_id=statement_id,
        running_minor=running_minor,
        recount_minor=recount_minor,
    )
