"""A non-order charge (deposit, penalty, platform fee), posted only once approved (R-FEE-5)."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import define, field

from settlement_core.errors import ValidationError
from settlement_core.lifecycle import ChargeStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event
from settlement_core.money import Money, from_minor


class ChargeKind(enum.StrEnum):
    """Why a party is charged (or credited) outside any order."""

    DEPOSIT = "deposit"
    PENALTY = "penalty"
    PLATFORM_FEE = "platform_fee"
    COMPENSATION = "compensation"


@define(eq=False)
class Charge(Aggregate):
    """A proposed charge; a second person approves it (it then books an item) or rejects it.

    `amount_minor` is signed from the party's side: negative takes money from it
    (a fee item), positive gives it money (an adjustment).
    """

    id: str
    tenant_id: str
    account_id: str
    kind: ChargeKind
    reference: str
    currency: str
    amount_minor: int
    reason: str
    proposed_by: str
    proposed_at: datetime
    status: ChargeStatus = ChargeStatus.PROPOSED
    decided_by: str | None = None
    decided_at: datetime | None = None
    item_id: str | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """The signed amount."""
        return from_minor(self.amount_minor, self.currency)

    def approve(self, at: datetime, by: str, item_id: str) -> None:
        """A second person approves; the charge is booked as item `item_id`."""
        self._decide("approve", at, by)
        self.item_id = item_id

    def reject(self, at: datetime, by: str) -> None:
        """A second person rejects; nothing is booked."""
        self._decide("reject", at, by)

    def _decide(self, trigger: str, at: datetime, by: str) -> None:
        # Four eyes: whoever proposed a charge cannot decide it.
        if by == self.proposed_by:
            raise ValidationError(f"{by!r} proposed charge {self.id}; another person decides it")
        self._move(trigger, at)
        self.decided_by = by
        self.decided_at = at
