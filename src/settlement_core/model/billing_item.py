"""One order's settlement line (R-ING-1..3)."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import BillingItemStatus, StatementStatus, destination
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event
from settlement_core.money import Money, from_minor


class ItemKind(enum.StrEnum):
    """What a billing item books; the kind fixes the sign the amount may have."""

    SALE = "sale"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    FEE = "fee"
    # A fee given back (the order it was charged on was refunded): positive.
    FEE_REFUND = "fee_refund"


# What a party owes the platform rather than earns: a gross-settled party is
# billed these apart from its payouts (R-FEE-4); a netting party has them deducted.
RECEIVABLE_KINDS = frozenset({ItemKind.FEE, ItemKind.FEE_REFUND})


class AmountBasis(enum.StrEnum):
    """How to read a request's amount."""

    # The amount is the line itself.
    DELTA = "delta"
    # The amount is the order's new total; the library books the difference (R-ING-3).
    ORDER_TOTAL = "order_total"


@define(eq=False)
class BillingItem(Aggregate):
    """A booked line: amount in minor units of its currency, on one statement."""

    id: str
    tenant_id: str
    key: str
    account_id: str
    order_id: str
    kind: ItemKind
    amount_minor: int
    currency: str
    occurred_at: datetime
    recorded_at: datetime
    statement_id: str
    request_hash: str
    basis: AmountBasis = AmountBasis.DELTA
    order_total_minor: int | None = None
    run_id: str | None = None
    status: BillingItemStatus = BillingItemStatus.PENDING
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """The booked amount as Money."""
        return from_minor(self.amount_minor, self.currency)


# Closing a statement moves its items through this trigger. A store may leave the
# rows as they were and derive the move from the statement instead (see
# `status_on`): rewriting every item row made the close cost a full pass of
# writes over the items table.
CLOSE_TRIGGER = "statement"
STATEMENTED = destination(BillingItemStatus, CLOSE_TRIGGER)


def status_on(stored: BillingItemStatus, statement: StatementStatus) -> BillingItemStatus:
    """An item's status, given its stored one and its statement's (closed implies statemented)."""
    if stored is BillingItemStatus.PENDING and statement is not StatementStatus.OPEN:
        return STATEMENTED
    return stored
