"""The settlement party: who gets paid, under which rule (R-ACC-1, R-ACC-2)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import AccountStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import AccountRuleAssigned, AccountSettlementModeChanged, Event

# The channel of accounts that name none.
DEFAULT_CHANNEL = "default"


class SettlementMode(enum.StrEnum):
    """How a party's receivables (fees it owes) meet its payables (R-FEE-4, seed 004 105).

    NET deducts them from its payouts (seed 004's "deduct from the flow"); GROSS
    pays the payable in full and bills the receivable apart as a collection
    ("two lines of income and expense").
    """

    NET = "net"
    GROSS = "gross"


@define(eq=False)
class Account(Aggregate):
    """A settlement party of one tenant, identified by the host's shop id."""

    id: str
    tenant_id: str
    shop_id: str
    time_zone: str
    rule_id: str
    created_at: datetime
    attributes: Mapping[str, str] = field(factory=dict)
    rule_override: str | None = None
    payout_method_ref: str | None = None
    # The payment channel its payouts go through (R-ACC-3).
    payout_channel: str = DEFAULT_CHANNEL
    settlement_mode: SettlementMode = SettlementMode.NET
    status: AccountStatus = AccountStatus.ACTIVE
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def is_held(self) -> bool:
        """Whether payouts are suspended for this account."""
        return self.status is AccountStatus.HELD

    def segment_attributes(self) -> dict[str, str]:
        """The attributes the rule engine matches segments on."""
        return {**self.attributes, "tenant_id": self.tenant_id}

    def hold(self, at: datetime) -> None:
        """Suspend payouts; items keep accruing."""
        self._move("hold", at)

    def release_hold(self, at: datetime) -> None:
        """Resume payouts from the next payable statement."""
        self._move("release_hold", at)

    def change_settlement_mode(self, mode: SettlementMode, at: datetime) -> None:
        """Net or gross from the next payout run on (statements already paid keep theirs)."""
        self.settlement_mode = mode
        self.events.append(
            AccountSettlementModeChanged(
                tenant_id=self.tenant_id, at=at, account_id=self.id, mode=mode.value
            )
        )

    def assign_rule(self, rule_id: str, at: datetime) -> None:
        """Pin an explicit rule; statements opened from now on use it."""
        self.rule_override = rule_id
        self.rule_id = rule_id
        self.events.append(
            AccountRuleAssigned(
                tenant_id=self.tenant_id, at=at, account_id=self.id, rule_id=rule_id
            )
        )
