"""Test kit for adapters and hosts: a marketplace whose payouts go through simulated banks.

Pure standard library plus the library itself (no pytest), like
`settlement_core.testing`, which it builds on.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from settlement_adapters.channels import SimulatedBank
from settlement_core.lifecycle import PayoutStatus
from settlement_core.model import OpenAccount, Payout
from settlement_core.ports import Clock, FxRates, Metrics, Outcome
from settlement_core.rules import ChannelPolicy, RuleEngine
from settlement_core.services.answers import CallbackReceipt
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT, ChannelBuild, Marketplace

# How long the simulated banks take, and the retry and polling timings scenarios use.
LATENCY = timedelta(minutes=30)
POLICY = ChannelPolicy(
    max_attempts=3,
    backoff=timedelta(minutes=15),
    backoff_cap=timedelta(hours=2),
    poll_after=timedelta(minutes=15),
    not_found_after=timedelta(hours=1),
)


def secret(channel: str) -> bytes:
    """Each bank signs with its own key."""
    return f"secret-of-{channel}".encode()


class ChannelMarket(Marketplace):
    """A marketplace whose payouts go through simulated banks `bank-a` and `bank-b`."""

    def __init__(self, build: ChannelBuild, metrics: Metrics | None = None, **faults: Any) -> None:
        self.banks: dict[str, SimulatedBank] = {}

        def make(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
            for name in ("bank-a", "bank-b"):
                self.banks[name] = SimulatedBank(
                    name=name, secret=secret(name), clock=clock, latency=LATENCY, **faults
                )
            channels = list(self.banks.values())
            return build(
                rules, clock, fx, channels=channels, channel_policy=POLICY, metrics=metrics
            )

        super().__init__(make)

    @property
    def bank(self) -> SimulatedBank:
        """The channel most scenarios use."""
        return self.banks["bank-a"]

    def seller(self, shop_id: str, channel: str = "bank-a", rule: str | None = None) -> str:
        """Open a shop paid through `channel`."""
        cmd = OpenAccount(
            tenant_id=TENANT, shop_id=shop_id, payout_channel=channel, rule_override=rule
        )
        return self.app.get_or_create_account(cmd).account.id

    def payouts_due(self, amounts: dict[str, str], currency: str = "USD") -> list[Payout]:
        """Sellers with one sale each, a day later: their payouts, created."""
        for shop_id, amount in amounts.items():
            self.seller(shop_id)
            self.order(shop_id, amount, currency)
        self.advance(days=1)
        _, created = self.run_jobs()
        return [self.app.get_payout(TENANT, p) for p in created]

    def released(self, amounts: dict[str, str]) -> list[Payout]:
        """Payouts prepared, fully funded and released through bank-a."""
        payouts = self.payouts_due(amounts)
        [summary_id] = self.app.prepare_release(self.clock.now())
        total = self.app.get_release(TENANT, summary_id).total
        self.app.record_funding(TENANT, "bank-a", total, "wire-1")
        self.app.release(TENANT, summary_id)
        return [self.app.get_payout(TENANT, p.id) for p in payouts]

    def deliver(self) -> list[CallbackReceipt]:
        """Every callback each bank has due now, handled as the host's endpoint would."""
        receipts = []
        for name, bank in self.banks.items():
            for body, headers in bank.deliver():
                receipts.append(self.app.handle_callback(name, body, headers))
        return receipts

    def status(self, payout: Payout) -> PayoutStatus:
        """The payout's status now."""
        return self.app.get_payout(TENANT, payout.id).status

    def available(self, account_id: str, currency: str = "USD") -> int:
        """An account's available balance in minor units."""
        found = self.app.balance(TENANT, account_id).available.get(currency)
        return 0 if found is None else int(found.amount * 100)

    def ledger_balance(self, account: str, currency: str = "USD") -> int:
        """A ledger account's balance."""
        with self.app.context.uow() as uow:
            return uow.ledger.balance(account, currency)

    def paid_at_bank(self) -> Counter[str]:
        """How many executions each payout had that the bank paid (or paid and returned)."""
        paid = (Outcome.PAID, Outcome.RETURNED)
        return Counter(
            row.payout_id
            for bank in self.banks.values()
            for row in bank.report_rows()
            if row.status in paid
        )
