"""Release summaries and fundings: how operations move money to the channels (R-REL-1, 2)."""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

from settlement_core.errors import InvalidTransition
from settlement_core.lifecycle import ReleaseSummaryStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event, PayoutWithdrawn
from settlement_core.money import Money, from_minor


@define(eq=False)
class ReleaseSummary(Aggregate):
    """One batch of payouts for one channel and currency, released by operations."""

    id: str
    tenant_id: str
    channel: str
    currency: str
    total_minor: int
    payout_ids: tuple[str, ...]
    created_at: datetime
    status: ReleaseSummaryStatus = ReleaseSummaryStatus.CREATED
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def total(self) -> Money:
        """What the channel must hold before this batch can be released."""
        return from_minor(self.total_minor, self.currency)

    def mark_funded(self, at: datetime) -> None:
        """The channel's funded balance covers this summary."""
        self._move("fund", at)

    def mark_released(self, at: datetime) -> None:
        """Operations released the batch; its payouts went to the channel."""
        self._move("release", at)

    def withdraw(self, payout_id: str, amount_minor: int, at: datetime) -> None:
        """Take a cancelled payout out of a summary that was not released yet."""
        if self.status is ReleaseSummaryStatus.RELEASED:
            raise InvalidTransition("ReleaseSummary", self.status.value, "withdraw")
        if payout_id not in self.payout_ids:
            return
        self.payout_ids = tuple(p for p in self.payout_ids if p != payout_id)
        self.total_minor -= amount_minor
        self.events.append(
            PayoutWithdrawn(
                tenant_id=self.tenant_id,
                at=at,
                summary_id=self.id,
                payout_id=payout_id,
                amount_minor=amount_minor,
            )
        )


@define(eq=False)
class Funding:
    """Operations topping up a channel's account; idempotent by reference."""

    id: str
    tenant_id: str
    channel: str
    currency: str
    amount_minor: int
    reference: str
    recorded_at: datetime
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def amount(self) -> Money:
        """The amount received by the channel."""
        return from_minor(self.amount_minor, self.currency)
