"""Fee-engine lines feed ingest unchanged: booked once, refunds net, everything reconciles.

For any order amount and rates, the engine's split books one item per party
line; replaying the order books nothing twice; a full refund (the negated
split, the next sequence) brings every party back to zero; and the store
reconciles clean.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement_adapters.bootstrap import in_memory
from settlement_core.fees import (
    Fee,
    FeeEngine,
    FeeSchedule,
    Order,
    Route,
    RoutingTable,
    ScheduleMatcher,
    ScheduleRule,
)
from settlement_core.fees.billing import billing_items
from settlement_core.model import OpenAccount
from settlement_core.money import Rounding, from_minor, to_minor
from settlement_core.testing.fakes import SequentialIds
from settlement_core.testing.marketplace import TENANT, Marketplace

PARTIES = {"seller": "seller-1", "store": "store-1"}
PLATFORM = "platform"
ENGINE = FeeEngine(
    ScheduleMatcher(
        [
            ScheduleRule(
                rule_id="concession",
                schedule=FeeSchedule(
                    name="concession",
                    factors=("paid", "store_rate", "fee_rate"),
                    fees=(
                        Fee("store_fee", "paid * store_rate", Rounding.HALF_UP),
                        Fee("platform_fee", "paid * fee_rate", Rounding.HALF_EVEN),
                    ),
                ),
                match={"business": "concession"},
            )
        ]
    ),
    RoutingTable(
        [
            Route("*", "*", "store_fee", "@store"),
            Route("*", "*", "platform_fee", PLATFORM),
        ]
    ),
)


def _market() -> Marketplace:
    market = Marketplace(
        lambda rules, clock, fx: in_memory(rules, clock=clock, fx=fx, ids=SequentialIds())
    )
    for shop in (*PARTIES.values(), PLATFORM):
        market.app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id=shop))
    return market


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    minor=st.integers(1, 10**7),
    store_rate=st.decimals(Decimal("0"), Decimal("0.4"), places=3),
    fee_rate=st.decimals(Decimal("0"), Decimal("0.1"), places=4),
    replays=st.integers(1, 3),
)
def test_fee_lines_book_once_and_refund_to_zero(
    minor: int, store_rate: Decimal, fee_rate: Decimal, replays: int
) -> None:
    """Booked once whatever the replays; a full refund leaves every party at zero."""
    market = _market()
    amount = from_minor(minor, "USD")
    order = Order(
        order_id="order-1",
        tenant_id=TENANT,
        business="concession",
        amount=amount,
        at=datetime(2025, 3, 2, 9, tzinfo=UTC),  # the day before the market clock
        parties=PARTIES,
        factors={"paid": amount.amount, "store_rate": store_rate, "fee_rate": fee_rate},
    )
    settled = ENGINE.settle(order)
    sale = settled.commands(sequence=0)
    assert sum(to_minor(c.amount) for c in sale) == minor
    first = market.app.record_billing_items(list(sale))
    assert not any(r.replayed for r in first)
    for _ in range(replays):
        assert all(r.replayed for r in market.app.record_billing_items(list(sale)))
    for party, total in settled.split.by_party().items():
        account = market.app.find_account(TENANT, party)
        assert account is not None
        assert market.app.balance(TENANT, account.id).pending.get("USD") == (
            total if to_minor(total) else None
        )
    refund = billing_items(
        settled.split.negated(),
        tenant_id=TENANT,
        order_id="order-1",
        occurred_at=market.clock.now(),
        sequence=1,
    )
    market.app.record_billing_items(list(refund))
    assert all(r.replayed for r in market.app.record_billing_items(list(refund)))
    for party in settled.split.by_party():
        account = market.app.find_account(TENANT, party)
        assert account is not None
        assert market.app.balance(TENANT, account.id).pending == {}
    report = market.app.reconcile(TENANT, market.clock.now(), checks=["statements", "ledger"])
    assert report.findings == ()
