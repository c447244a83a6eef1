"""One priced order event, stored with every factor it used (R-FEE-1 audit, seed 004 103).

What the fee engine computed for (tenant, order, sequence): the schedule rule
that matched, each fee, the factor snapshot (including factors a provider
supplied) and the split lines, plus the billing items that booked them. The
record is written once, in the transaction that books the items, and never
changed: a replay of the same request returns it, and an audit can recompute
every fee from its factors.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from attrs import define, field, frozen

from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event
from settlement_core.money import Money, from_minor


@frozen
class CalculatedLine:
    """One split line as booked: party, line name, signed amount, and whether a charge."""

    party: str
    line: str
    amount_minor: int
    charge: bool = False


@define(eq=False)
class FeeCalculation(Aggregate):
    """A priced order event; unique by (tenant, order id, sequence)."""

    id: str
    tenant_id: str
    order_id: str
    sequence: int
    request_hash: str
    rule_id: str
    schedule: str
    currency: str
    amount_minor: int
    # Decimal factor values in their exact text form, by name.
    factors: Mapping[str, str]
    provided: tuple[str, ...]
    fees_minor: Mapping[str, int]
    lines: tuple[CalculatedLine, ...]
    item_ids: tuple[str, ...]
    occurred_at: datetime
    calculated_at: datetime
    run_id: str | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """The order amount the split shared out."""
        return from_minor(self.amount_minor, self.currency)

    def fee(self, name: str) -> Money:
        """One computed fee as Money."""
        return from_minor(self.fees_minor[name], self.currency)
