"""Tracing one order end to end on every backend (R-OPS-1)."""

from __future__ import annotations

import pytest

from settlement_adapters.testing import ChannelMarket
from settlement_core.errors import InvalidIdentifier
from settlement_core.lifecycle import PayoutStatus
from settlement_core.model import AnswerSource, ItemKind
from settlement_core.testing.marketplace import TENANT, ChannelBuild


@pytest.fixture
def market(settlement_build: ChannelBuild) -> ChannelMarket:
    """A marketplace whose bank fails the first payout for good, then pays."""
    return ChannelMarket(settlement_build, permanent_failure_rate=1.0)


def _release_and_answer(market: ChannelMarket, reference: str) -> None:
    for summary_id in market.app.prepare_release(market.clock.now()):
        total = market.app.get_release(TENANT, summary_id).total
        market.app.record_funding(TENANT, "bank-a", total, reference)
        market.app.release(TENANT, summary_id)
    market.advance(hours=1)
    market.deliver()


def test_an_order_is_followed_to_the_payout_that_finally_paid_it(market: ChannelMarket) -> None:
    """Items, statements, the failed payout and its replacement, releases, answers, postings."""
    market.seller("s1")
    market.order("s1", "30.00", order_id="order-7")
    market.order("s1", "-5.00", order_id="order-7", kind=ItemKind.REFUND)
    market.order("s1", "99.00", order_id="another")
    market.advance(days=1)
    market.run_jobs()
    _release_and_answer(market, "wire-1")
    market.bank.permanent_failure_rate = 0.0
    market.order("s1", "1.00", order_id="later")
    market.advance(days=1)
    market.run_jobs()
    _release_and_answer(market, "wire-2")

    trace = market.app.trace_order(TENANT, "order-7")
    assert sorted(i.amount_minor for i in trace.items) == [-500, 3000]
    assert {i.order_id for i in trace.items} == {"order-7"}
    failed, paid = trace.payouts
    assert (failed.status, paid.status) == (PayoutStatus.FAILED_NO_RETRY, PayoutStatus.PAID)
    assert failed.replaced_by == paid.id and paid.replaces == (failed.id,)
    assert {r.id for r in trace.releases} == {failed.release_id, paid.release_id}
    assert {e.source for e in trace.channel_events} == {AnswerSource.SUBMIT, AnswerSource.CALLBACK}
    kinds = sorted(t.kind for t in trace.transactions)
    assert kinds.count("item.booked") == 2
    assert {"payout.created", "payout.created.reversal", "payout.paid"} <= set(kinds)
    assert "release.funded" in kinds
    steps = trace.timeline
    assert steps[0].what == "item"
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert {s.what for s in steps} == {
        "item",
        "statement",
        "payout",
        "release",
        "channel",
        "ledger",
    }


def test_another_tenant_sees_nothing_of_the_order(market: ChannelMarket) -> None:
    """The same order id under another tenant traces to nothing (R-SEC-2)."""
    market.seller("s1")
    market.order("s1", "30.00", order_id="order-7")
    trace = market.app.trace_order("tenant-b", "order-7")
    assert (trace.items, trace.timeline) == ((), ())
    with pytest.raises(InvalidIdentifier):
        market.app.trace_order(TENANT, "")
