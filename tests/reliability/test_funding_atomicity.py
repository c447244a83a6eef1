"""Found by the fault-injection suite: funding and the summaries it funds commit together.

`record_funding` recorded the money in one transaction and funded the
channel's created summaries in a second; `prepare_release` made summaries in
one and funded them from free funds in another. A crash in between left
summaries `created` beside free funds that covered them, and the operations
report then showed nothing left to fund, so no one and no job funded them.
Now each is one transaction: after a crash at any commit, either nothing
happened or the summaries are funded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from settlement_adapters.faults import FaultPlan, InjectedFault, with_faults
from settlement_adapters.testing import ChannelMarket, empty_store, store_build
from settlement_core.lifecycle import ReleaseSummaryStatus
from settlement_core.money import money
from settlement_core.testing.marketplace import TENANT


@pytest.fixture(params=["memory", "sqlite"])
def market(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ChannelMarket]:
    """A channel marketplace on an empty store."""
    engine: Engine | None
    with empty_store(request.param, tmp_path) as engine:
        yield ChannelMarket(store_build(engine))


def _stranded(market: ChannelMarket) -> list[str]:
    """Created summaries that the channel's free funds would cover (none may exist)."""
    report = market.app.operations_report(TENANT)
    free = {(p.channel, p.currency): p.free_funds for p in report.positions}
    return [
        s.id
        for s in report.summaries
        if s.status is ReleaseSummaryStatus.CREATED
        and s.total.amount <= free[(s.channel, s.total.currency.code)].amount
    ]


@pytest.mark.parametrize("point", ["ledger_post", "before_commit", "after_commit"])
def test_a_crash_inside_prepare_release_never_strands_a_summary(
    market: ChannelMarket, point: str
) -> None:
    """Funds already at the channel: a crash while summarising leaves them funded or untouched."""
    market.app.record_funding(TENANT, "bank-a", money("100.00", "USD"), "wire-early")
    market.payouts_due({"s1": "30.00", "s2": "40.00"})
    plan = FaultPlan((point, 1))
    with pytest.raises(InjectedFault):
        with_faults(market.app, plan).prepare_release(market.clock.now())
    assert _stranded(market) == []
    market.app.prepare_release(market.clock.now())
    [summary] = market.app.operations_report(TENANT).summaries
    assert summary.status is ReleaseSummaryStatus.FUNDED


@pytest.mark.parametrize("point", ["ledger_post", "before_commit", "after_commit"])
def test_a_crash_inside_record_funding_never_strands_a_summary(
    market: ChannelMarket, point: str
) -> None:
    """Summaries waiting for money: a crash while recording it leaves them funded or untouched."""
    market.payouts_due({"s1": "30.00", "s2": "40.00"})
    market.app.prepare_release(market.clock.now())
    plan = FaultPlan((point, 1))
    with pytest.raises(InjectedFault):
        with_faults(market.app, plan).record_funding(
            TENANT, "bank-a", money("70.00", "USD"), "wire-1"
        )
    assert _stranded(market) == []
