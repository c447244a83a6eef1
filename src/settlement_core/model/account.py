"""The settlement party: who gets paid, under which rule (R-ACC-1, R-ACC-2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import AccountStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import AccountRuleAssigned, Event

# The channel of accounts that name none.
DEFAULT_CHANNEL = "default"


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

    def assign_rule(self, rule_id: str, at: datetime) -> None:
        """Pin an explicit rule; statements opened from now on use it."""
        self.rule_override = rule_id
        self.rule_id = rule_id
        self.events.append(
            AccountRuleAssigned(
                tenant_id=self.tenant_id, at=at, account_id=self.id, rule_id=rule_id
            )
        )
