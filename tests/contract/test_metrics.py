"""Business counters on every backend (R-MON-2): counted once, after the work commits."""

from __future__ import annotations

from settlement_adapters.testing import ChannelMarket
from settlement_core.model import ItemKind
from settlement_core.ports import metrics as m
from settlement_core.testing.fakes import RecordingMetrics
from settlement_core.testing.marketplace import TENANT, ChannelBuild


def test_a_flow_is_counted_once(settlement_build: ChannelBuild) -> None:
    """Items and amounts (replays not counted), payouts created, paid and returned."""
    counts = RecordingMetrics()
    market = ChannelMarket(settlement_build, metrics=counts, return_rate=1.0)
    market.seller("s1")
    market.seller("s2")
    sale = market.command("s1", "10.00")
    market.app.record_billing_item(sale)
    market.app.record_billing_item(sale)  # a replay
    market.app.record_billing_items(
        [market.command("s2", "20.00"), market.command("s2", "-5.00", kind=ItemKind.REFUND)]
    )
    assert counts.total(m.ITEMS_INGESTED) == 3
    assert counts.total(m.AMOUNT_INGESTED, currency="USD", direction="in") == 3000
    assert counts.total(m.AMOUNT_INGESTED, currency="USD", direction="out") == 500
    market.advance(days=1)
    market.run_jobs()
    assert counts.total(m.PAYOUTS_CREATED, kind="scheduled") == 2
    for summary_id in market.app.prepare_release(market.clock.now()):
        total = market.app.get_release(TENANT, summary_id).total
        market.app.record_funding(TENANT, "bank-a", total, "wire-1")
        market.app.release(TENANT, summary_id)
    market.advance(minutes=40)
    market.deliver()
    assert counts.total(m.PAYOUTS_PAID, channel="bank-a") == 2
    market.advance(minutes=40)
    market.deliver()
    assert counts.total(m.PAYOUTS_RETURNED, channel="bank-a") == 2
    assert counts.total(m.PAYOUTS_PAID) == 2  # returns are not counted as new payments


def test_failures_and_discrepancies_are_counted(settlement_build: ChannelBuild) -> None:
    """Retryable and final failures apart; each recorded discrepancy by its kind."""
    counts = RecordingMetrics()
    market = ChannelMarket(settlement_build, metrics=counts, failure_rate=1.0)
    [payout] = market.released({"s1": "10.00"})
    for _ in range(3):
        market.advance(hours=1)
        market.deliver()
        market.advance(hours=2)
        market.app.retry_failed_payouts(market.clock.now())
    assert counts.total(m.PAYOUTS_FAILED, final="false") == 2
    assert counts.total(m.PAYOUTS_FAILED, final="true") == 1
    rows = market.bank.report_rows()
    now = market.clock.now()
    market.app.reconcile_channel(TENANT, "bank-a", rows[:-1], since=payout.created_at, until=now)
    assert counts.total(m.DISCREPANCIES_FOUND, kind="missing_at_channel") == 1
