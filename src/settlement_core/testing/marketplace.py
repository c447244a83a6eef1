"""A small marketplace to run scenarios against any adapter: rules, shops, orders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from settlement_core.model import AmountBasis, ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import money
from settlement_core.ports import Clock, FxRates, Metrics, PaymentChannel
from settlement_core.rules import ChannelPolicy, Cycle, PayoutRule, RuleEngine, SegmentRule
from settlement_core.services.ingest import ItemReceipt
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock, StaticFxRates

Build = Callable[[RuleEngine, Clock, FxRates], Settlement]


class ChannelBuild(Protocol):
    """A Build that also routes payouts to payment channels (it is a Build as well)."""

    def __call__(
        self,
        rules: RuleEngine,
        clock: Clock,
        fx: FxRates,
        channels: Sequence[PaymentChannel] = (),
        channel_policy: ChannelPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> Settlement:
        """A Settlement on a fresh, empty store."""
        ...


TENANT = "tenant-a"
START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
RATES = {("EUR", "USD"): Decimal("1.10"), ("JPY", "USD"): Decimal("0.0067")}


def standard_rules() -> RuleEngine:
    """Daily by default; segments for weekly, monthly, threshold, hold, manual, FX."""
    engine = RuleEngine(default_rule_id="daily")
    for rule in (
        PayoutRule(rule_id="daily", cycle=Cycle.daily()),
        PayoutRule(rule_id="weekly", cycle=Cycle.weekly(anchor_weekday=0), delay_days=2),
        PayoutRule(rule_id="monthly", cycle=Cycle.monthly(anchor_day=1)),
        PayoutRule(
            rule_id="threshold", cycle=Cycle.daily(), payment_threshold=money("50.00", "USD")
        ),
        PayoutRule(rule_id="hold", cycle=Cycle.daily(), is_hold=True),
        PayoutRule(rule_id="manual", cycle=Cycle.daily(), auto_payment=False),
        PayoutRule(rule_id="in-usd", cycle=Cycle.daily(), payment_currency="USD"),
        PayoutRule(
            rule_id="debt-limit",
            cycle=Cycle.daily(),
            negative_balance_limit=money("20.00", "USD"),
        ),
    ):
        engine.define(rule)
    engine.add_segment(SegmentRule(rule_id="weekly", priority=10, match={"seller_type": "pro"}))
    engine.validate()
    return engine


class Marketplace:
    """A Settlement under a manual clock, with helpers that read like the domain."""

    def __init__(self, build: Build, rules: RuleEngine | None = None) -> None:
        self.clock = ManualClock(START)
        self.rules = rules or standard_rules()
        self.app = build(self.rules, self.clock, StaticFxRates(RATES))
        self._seq = 0

    def shop(
        self, shop_id: str, rule: str | None = None, mode: str = "net", **attributes: str
    ) -> str:
        """Open (or find) a shop's account (netting, or `mode="gross"`) and return its id."""
        cmd = OpenAccount(
            tenant_id=TENANT,
            shop_id=shop_id,
            time_zone=attributes.pop("time_zone", "UTC"),
            attributes=attributes,
            rule_override=rule,
            settlement_mode=mode,
        )
        return self.app.get_or_create_account(cmd).account.id

    def order(
        self, shop_id: str, amount: str, currency: str = "USD", **options: Any
    ) -> ItemReceipt:
        """Record one billing item (a sale unless told otherwise); options as `command`."""
        return self.app.record_billing_item(self.command(shop_id, amount, currency, **options))

    def command(
        self,
        shop_id: str,
        amount: str,
        currency: str = "USD",
        *,
        kind: ItemKind = ItemKind.SALE,
        key: str | None = None,
        order_id: str | None = None,
        at: datetime | None = None,
        basis: AmountBasis = AmountBasis.DELTA,
    ) -> RecordBillingItem:
        """The command `order` would send."""
        self._seq += 1
        order = order_id or f"order-{self._seq}"
        return RecordBillingItem(
            tenant_id=TENANT,
            shop_id=shop_id,
            key=key or f"{order}:{kind.value}:{self._seq}",
            order_id=order,
            kind=kind,
            amount=money(amount, currency),
            occurred_at=at or self.clock.now(),
            basis=basis,
        )

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        """Move time forward."""
        return self.clock.advance(timedelta(days=days, hours=hours, minutes=minutes))

    def run_jobs(self) -> tuple[int, tuple[str, ...]]:
        """Close cycles and create payouts as of now; (closed, payout ids)."""
        closed = self.app.close_cycles(self.clock.now())
        payouts = self.app.create_payouts(self.clock.now())
        return closed.closed, payouts.created
