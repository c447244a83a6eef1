"""Reconciliation stays clean after large random scenarios, on every backend (hypothesis).

Each example runs weeks of a random marketplace (sellers on different rules,
sales and refunds, a bank with random faults, funding, release, callbacks,
polls and retries) on a fresh store, then reconciles everything: nothing may
be reported, and the journal chain must verify.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement_adapters.testing import ChannelMarket, empty_store, store_build
from settlement_core.lifecycle import PayoutStatus, ReleaseSummaryStatus
from settlement_core.model import ApprovePayout, ItemKind
from settlement_core.ports import PayoutFilter
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, ChannelBuild

RULES = ("daily", "weekly", "threshold", "manual", "in-usd")
rates = st.sampled_from([0.0, 0.2, 0.5])
PENDING = PayoutFilter(tenant_id=TENANT, status=PayoutStatus.PENDING_APPROVAL)


@contextlib.contextmanager
def fresh_store(backend: str) -> Iterator[ChannelBuild]:
    """A build over a new, empty store of one backend."""
    folder = Path(tempfile.mkdtemp(prefix="settlement-reconcile-"))
    with empty_store(backend, folder) as engine:
        yield store_build(engine)


day = st.tuples(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(100, 40_000), st.booleans()),
        min_size=1,
        max_size=15,
    ),
    st.booleans(),
)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgresql", "mysql"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    days=st.lists(day, min_size=3, max_size=15),
    rules=st.lists(st.sampled_from(RULES), min_size=6, max_size=6),
    failure=rates,
    permanent=rates,
    timeout=rates,
    returned=rates,
)
def test_a_random_month_reconciles_clean(
    backend: str,
    days: list[tuple[list[tuple[int, int, bool]], bool]],
    rules: list[str],
    failure: float,
    permanent: float,
    timeout: float,
    returned: float,
) -> None:
    """After any scenario: no discrepancy, the chain verifies, the money invariants hold."""
    with fresh_store(backend) as build:
        market = ChannelMarket(
            build,
            failure_rate=failure,
            permanent_failure_rate=min(permanent, 1 - failure),
            timeout_rate=timeout,
            return_rate=returned,
            duplicate_rate=0.3,
            reorder=True,
        )
        for n, rule in enumerate(rules):
            market.seller(f"s{n}", rule=rule)
        wire = 0
        for orders, refund in days:
            for shop, minor, euro in orders:
                market.order(f"s{shop}", f"{minor / 100:.2f}", "EUR" if euro else "USD")
            if refund:
                market.order(f"s{orders[0][0]}", "-1.00", kind=ItemKind.REFUND)
            market.advance(days=1)
            now = market.clock.now()
            market.run_jobs()
            for payout in market.app.query_payouts(PENDING, limit=500).items:
                market.app.approve_payout(
                    ApprovePayout(tenant_id=TENANT, payout_id=payout.id, approved_by="ops")
                )
            market.run_jobs()
            market.app.prepare_release(now)
            for position in market.app.operations_report(TENANT).positions:
                if position.to_fund.amount > 0:
                    wire += 1
                    market.app.record_funding(
                        TENANT, position.channel, position.to_fund, f"w{wire}"
                    )
            for summary in market.app.operations_report(TENANT).summaries:
                if summary.status is ReleaseSummaryStatus.FUNDED:
                    market.app.release(TENANT, summary.id)
            for _ in range(3):
                market.advance(hours=1)
                market.deliver()
                market.app.poll_channels(market.clock.now())
                market.app.retry_failed_payouts(market.clock.now())
        market.app.seal_journal(TENANT)
        report = market.app.reconcile(TENANT, market.clock.now(), stuck_after=timedelta(days=30))
        assert report.findings == (), report.findings
        assert market.app.verify_journal(TENANT).broken_at is None
        assert_invariants(market)
