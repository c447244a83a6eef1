"""A freeze: part of an account's available balance set aside for a spend (R-LED-2, TCC)."""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import FreezeStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event
from settlement_core.money import Money, from_minor


@define(eq=False)
class Freeze(Aggregate):
    """Money held from the available balance: then spent (confirm) or given back (cancel)."""

    id: str
    tenant_id: str
    account_id: str
    reference: str
    currency: str
    amount_minor: int
    created_at: datetime
    expires_at: datetime
    status: FreezeStatus = FreezeStatus.HELD
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """What is held."""
        return from_minor(self.amount_minor, self.currency)

    def confirm(self, at: datetime) -> None:
        """The spend went through: the held money leaves the account."""
        self._move("confirm", at)

    def cancel(self, at: datetime) -> None:
        """The spend was called off: the money is available again."""
        self._move("cancel", at)

    def expire(self, at: datetime) -> None:
        """Nobody confirmed or cancelled in time: the money is available again."""
        self._move("expire", at)
