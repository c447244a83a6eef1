"""Any stream of items with duplicates is booked exactly once per key."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings

from settlement_adapters.bootstrap import in_memory
from settlement_core.model import OpenAccount, RecordBillingItem
from settlement_core.money import from_minor, to_minor
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, Marketplace
from settlement_core.testing.strategies import Stream, item_streams, open_accounts

RULE_IDS = ("daily", "weekly", "monthly", "threshold", "hold", "manual")


@settings(max_examples=60, deadline=None)
@given(accounts=open_accounts(TENANT, RULE_IDS), stream=item_streams())
def test_replays_in_a_stream_change_nothing(accounts: list[OpenAccount], stream: Stream) -> None:
    """Balances equal the sum of distinct items, whatever was delivered twice."""
    market = Marketplace(lambda rules, clock, fx: in_memory(rules, clock=clock, fx=fx))
    ids = [market.app.get_or_create_account(a).account.id for a in accounts]
    sent: list[RecordBillingItem] = []
    expected: defaultdict[tuple[int, str], int] = defaultdict(int)
    for spec in stream.items:
        cmd = market.command(
            f"shop-{spec.shop}",
            str(from_minor(spec.minor, spec.currency).amount),
            spec.currency,
            kind=spec.kind,
        )
        assert not market.app.record_billing_item(cmd).replayed
        sent.append(cmd)
        expected[(spec.shop, spec.currency)] += spec.minor
    for index in stream.replays:
        assert market.app.record_billing_item(sent[index]).replayed
    assert market.app.record_billing_items([sent[i] for i in stream.replays]) == [
        market.app.record_billing_item(sent[i]) for i in stream.replays
    ]
    for (shop, currency), minor in expected.items():
        pending = market.app.balance(TENANT, ids[shop]).pending.get(currency)
        assert (to_minor(pending) if pending else 0) == minor
    assert_invariants(market)
