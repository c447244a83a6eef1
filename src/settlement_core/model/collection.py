"""What a gross-settled party owes the platform, billed apart from its payouts (R-FEE-4).

Seed 004 step 105: when a party settles "two lines of income and expense", its
statements are split into a payable (paid out in full) and a receivable (the
fees it owes), and the receivable is collected on its own. One collection
bills one payout run's receivables of one party in one currency.
"""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

from settlement_core.errors import InvalidAmount
from settlement_core.lifecycle import CollectionStatus, next_state
from settlement_core.model.base import Aggregate
from settlement_core.model.events import CollectionReceived, Event
from settlement_core.money import Money, format_amount, from_minor


@define(eq=False)
class Collection(Aggregate):
    """A receivable document: `amount_minor` (> 0) owed by the party, collected in parts."""

    id: str
    tenant_id: str
    account_id: str
    key: str
    currency: str
    amount_minor: int
    statement_ids: tuple[str, ...]
    created_at: datetime
    collected_minor: int = 0
    offset_minor: int = 0
    status: CollectionStatus = CollectionStatus.OPEN
    closed_at: datetime | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """What the party was billed."""
        return from_minor(self.amount_minor, self.currency)

    @property
    def outstanding_minor(self) -> int:
        """What is still owed: billed, less collected, less offset."""
        return self.amount_minor - self.collected_minor - self.offset_minor

    @property
    def outstanding(self) -> Money:
        """What is still owed, as Money."""
        return from_minor(self.outstanding_minor, self.currency)

    def receive(self, amount_minor: int, reference: str, at: datetime) -> None:
        """The party paid `amount_minor` (at most what is outstanding) under `reference`."""
        if amount_minor <= 0:
            raise InvalidAmount(f"a collected amount must be positive, got {amount_minor}")
        next_state(self.status, "collect_part")  # a settled collection refuses before amounts
        if amount_minor > self.outstanding_minor:
            raise InvalidAmount(
                f"collection {self.id} has {format_amount(self.outstanding)} outstanding,"
                f" less than {format_amount(from_minor(amount_minor, self.currency))}"
            )
        rest = amount_minor == self.outstanding_minor
        self._move("collect_rest" if rest else "collect_part", at)
        self.collected_minor += amount_minor
        if rest:
            self.closed_at = at
        self.events.append(
            CollectionReceived(
                tenant_id=self.tenant_id,
                at=at,
                collection_id=self.id,
                amount_minor=amount_minor,
                currency=self.currency,
                reference=reference,
            )
        )

    def offset(self, at: datetime) -> int:
        """Stop collecting apart: what is outstanding nets against payouts; returns it."""
        self._move("offset", at)
        left = self.outstanding_minor
        self.offset_minor += left
        self.closed_at = at
        return left
