"""Netting and gross settlement of the same orders end in the same money (R-FEE-4).

Two parties receive identical days of sales, refunds, fees and fee refunds; one
nets, one settles gross and pays its collections in random parts, or has them
offset. After every day the money invariants hold for both, and once the gross
party has paid everything it was billed, both have received exactly the same
amount: the settlement mode changes when money moves, never how much.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement_adapters.bootstrap import in_memory
from settlement_core.lifecycle import CollectionStatus, PayoutStatus
from settlement_core.model import ItemKind
from settlement_core.money import from_minor, to_minor
from settlement_core.ports import PayoutFilter, paged
from settlement_core.testing.fakes import SequentialIds
from settlement_core.testing.invariants import RETURNED, assert_invariants
from settlement_core.testing.marketplace import TENANT, Marketplace

LINE = st.tuples(
    st.sampled_from([ItemKind.SALE, ItemKind.REFUND, ItemKind.FEE, ItemKind.FEE_REFUND]),
    st.integers(1, 20_000),
)
DAY = st.lists(LINE, min_size=1, max_size=6)
# What the gross party does with each collection: pay it in this many parts, or offset it.
SETTLE = st.one_of(st.integers(1, 3), st.just(0))

SIGN = {ItemKind.SALE: 1, ItemKind.REFUND: -1, ItemKind.FEE: -1, ItemKind.FEE_REFUND: 1}


def _paid_out(market: Marketplace, account: str) -> int:
    where = PayoutFilter(tenant_id=TENANT, account_id=account)
    return sum(
        p.amount_minor
        for p in paged(lambda c: market.app.query_payouts(where, c, 1000))
        if p.status not in RETURNED and p.status is not PayoutStatus.PENDING_APPROVAL
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.lists(DAY, min_size=1, max_size=5), plans=st.lists(SETTLE, max_size=8))
def test_net_and_gross_parties_end_with_the_same_money(
    days: list[list[tuple[ItemKind, int]]], plans: list[int]
) -> None:
    """Identical items, two modes: invariants after each day, equal money at the end."""
    market = Marketplace(
        lambda rules, clock, fx: in_memory(rules, clock=clock, fx=fx, ids=SequentialIds())
    )
    net = market.shop("net")
    gross = market.shop("gross", mode="gross")
    settled: set[str] = set()
    plan = iter(plans)
    booked = 0
    for lines in days:
        for kind, minor in lines:
            amount = str(from_minor(SIGN[kind] * minor, "USD").amount)
            market.order("net", amount, kind=kind)
            market.order("gross", amount, kind=kind)
            booked += SIGN[kind] * minor
        market.advance(days=1)
        market.run_jobs()
        for collection in market.app.query_collections(TENANT, account_id=gross).items:
            if collection.id in settled:
                continue
            settled.add(collection.id)
            parts = next(plan, 1)
            if parts == 0:
                market.app.offset_collection(TENANT, collection.id, "ops", "netted")
                continue
            owed = collection.outstanding_minor
            for n in range(parts):
                share = owed // parts + (owed % parts if n == parts - 1 else 0)
                if share:
                    market.app.record_collection(
                        TENANT, collection.id, from_minor(share, "USD"), f"bank-{n}"
                    )
        assert_invariants(market)
    for collection in market.app.query_collections(TENANT, account_id=gross).items:
        assert collection.status in (CollectionStatus.COLLECTED, CollectionStatus.OFFSET)
    outcomes = {}
    for account in (net, gross):
        balance = market.app.balance(TENANT, account)
        held = sum(
            to_minor(part["USD"])
            for part in (balance.pending, balance.available, balance.receivable)
            if "USD" in part
        )
        outcomes[account] = held + _paid_out(market, account)
    collected = sum(
        c.collected_minor
        for c in market.app.query_collections(TENANT, account_id=gross, limit=1000).items
    )
    assert outcomes[net] == outcomes[gross] - collected == booked
