"""The journal's hash chain on every backend: sealing, verifying, finding the first break."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from settlement_adapters.testing import ChannelMarket, Tamper
from settlement_core.model import DiscrepancyKind
from settlement_core.testing.marketplace import TENANT, ChannelBuild


@pytest.fixture
def market(settlement_build: ChannelBuild) -> ChannelMarket:
    """A marketplace with some postings: items, payables, payouts, funding, payments."""
    market = ChannelMarket(settlement_build)
    market.released({"s1": "10.00", "s2": "20.00", "s3": "5.00"})
    market.advance(hours=1)
    market.deliver()
    return market


def _transactions(market: ChannelMarket) -> list[str]:
    with market.app.context.uow() as uow:
        return [t.id for t in uow.ledger.transactions(TENANT)]


def test_sealing_chains_every_transaction_once(market: ChannelMarket) -> None:
    """Every posting is sealed; sealing again seals nothing; the chain verifies."""
    posted = _transactions(market)
    assert market.app.seal_journal(TENANT) == len(posted)
    assert market.app.seal_journal(TENANT) == 0
    report = market.app.verify_journal(TENANT)
    assert (report.checked, report.broken_at) == (len(posted), None)
    market.order("s1", "1.00")
    assert market.app.seal_journal(TENANT) == 1  # new postings join the chain's tip
    assert market.app.verify_journal(TENANT).broken_at is None
    assert market.app.seal_journal("tenant-b") == 0


def test_a_changed_transaction_is_the_first_broken_link(
    market: ChannelMarket, backend: Engine | None
) -> None:
    """Change one sealed leg: verification stops there, names it, records it once."""
    market.app.seal_journal(TENANT)
    posted = _transactions(market)
    victim = posted[len(posted) // 2]
    Tamper(market.app, backend).add_to_first_leg(victim, 1)
    report = market.app.verify_journal(TENANT)
    assert report.broken_at is not None
    assert report.broken_at.transaction_id == victim
    assert report.reason == "the transaction changed after it was sealed"
    assert report.checked == report.broken_at.seq
    [recorded] = report.recorded
    found = market.app.discrepancies(TENANT).items
    assert [(d.id, d.kind) for d in found] == [(recorded, DiscrepancyKind.CHAIN_BROKEN)]
    assert market.app.verify_journal(TENANT).recorded == ()


def test_a_rewritten_hash_breaks_the_next_link(
    market: ChannelMarket, backend: Engine | None
) -> None:
    """Forging one link's hash leaves it inconsistent with its content: it is the break."""
    market.app.seal_journal(TENANT)
    Tamper(market.app, backend).add_to_seal_hash(TENANT, 3)
    report = market.app.verify_journal(TENANT, dry_run=True)
    assert report.broken_at is not None and report.broken_at.seq == 3
    assert report.recorded == ()
    assert market.app.discrepancies(TENANT).items == []
