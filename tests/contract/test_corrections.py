"""Working discrepancies on every backend (R-REC-3): suspense, reverse, re-post."""

from __future__ import annotations

import attrs
import pytest

from settlement_adapters.testing import ChannelMarket
from settlement_core.errors import InvalidTransition, NotFound, ValidationError
from settlement_core.ledger import Entry
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import DiscrepancyStatus
from settlement_core.model import Discrepancy, OpenAccount
from settlement_core.money import money
from settlement_core.testing.marketplace import TENANT, ChannelBuild

FUNDS = ledger_accounts.channel_funds(TENANT, "bank-a")
SUSPENSE = ledger_accounts.suspense(TENANT)


@pytest.fixture
def market(settlement_build: ChannelBuild) -> ChannelMarket:
    """A marketplace whose bank reported one payout 0.01 higher than we sent it."""
    return ChannelMarket(settlement_build)


def _mismatch(market: ChannelMarket, shop: str = "s1") -> Discrepancy:
    """Pay one payout, then read a report that says the bank moved a cent more."""
    market.seller(shop)
    market.order(shop, "10.00")
    market.advance(days=1)
    market.run_jobs()
    [summary_id] = market.app.prepare_release(market.clock.now())
    total = market.app.get_release(TENANT, summary_id).total
    market.app.record_funding(TENANT, "bank-a", total, f"wire-{shop}")
    market.app.release(TENANT, summary_id)
    market.advance(hours=1)
    market.deliver()
    rows = market.bank.report_rows()
    last = attrs.evolve(rows[-1], amount_minor=rows[-1].amount_minor + 1)
    now = market.clock.now()
    report = market.app.reconcile_channel(
        TENANT, "bank-a", [*rows[:-1], last], since=rows[0].submitted_at, until=now
    )
    [discrepancy_id] = report.recorded
    return market.app.get_discrepancy(TENANT, discrepancy_id)


def test_an_unexplained_difference_is_parked_on_suspense(market: ChannelMarket) -> None:
    """The channel's extra cent leaves its funds for suspense; the discrepancy is resolved."""
    found = _mismatch(market)
    before = market.ledger_balance(FUNDS)
    done = market.app.to_suspense(TENANT, found.id, FUNDS, "ops", "bank overpaid a cent")
    assert done.status is DiscrepancyStatus.RESOLVED
    assert done.resolution is not None and "suspense" in done.resolution
    assert market.ledger_balance(FUNDS) == before - 1
    assert market.ledger_balance(SUSPENSE) == 1
    again = market.app.to_suspense(TENANT, found.id, FUNDS, "ops", "bank overpaid a cent")
    assert again.status is DiscrepancyStatus.RESOLVED
    assert market.ledger_balance(SUSPENSE) == 1  # posted once


def test_corrections_only_touch_the_tenants_own_accounts(market: ChannelMarket) -> None:
    """Another tenant's party or channel account is refused, and nothing is posted."""
    found = _mismatch(market)
    other = market.app.get_or_create_account(OpenAccount(tenant_id="tenant-b", shop_id="x"))
    for account in (
        ledger_accounts.available(other.account.id),
        ledger_accounts.channel_funds("tenant-b", "bank-a"),
    ):
        with pytest.raises(ValidationError):
            market.app.to_suspense(TENANT, found.id, account, "ops", "wrong account")
    theirs = ledger_accounts.channel_funds("tenant-b", "bank-a")
    with pytest.raises(NotFound):
        market.app.to_suspense("tenant-b", found.id, theirs, "ops", "another tenant's")
    assert market.ledger_balance(SUSPENSE) == 0
    assert market.app.discrepancies(TENANT, DiscrepancyStatus.OPEN).items[0].id == found.id


def test_a_wrong_posting_is_reversed_or_reposted(market: ChannelMarket) -> None:
    """A funding booked twice is reversed; one booked too high is reposted right."""
    found = _mismatch(market)
    before = market.ledger_balance(FUNDS)
    twice = market.app.record_funding(TENANT, "bank-a", money("7.00", "USD"), "dup")
    posting = _posting_of(market, twice.funding.id)
    market.app.reverse_posting(TENANT, found.id, posting, "ops", "the wire was booked twice")
    assert market.ledger_balance(FUNDS) == before
    market.app.reverse_posting(TENANT, found.id, posting, "ops", "the wire was booked twice")
    assert market.ledger_balance(FUNDS) == before  # resolved: nothing posted again

    second = _mismatch(market, "s2")
    with market.app.context.uow() as uow:
        undone = next(t for t in uow.ledger.transactions(TENANT) if t.reverses == posting)
    with pytest.raises(InvalidTransition):
        market.app.reverse_posting(TENANT, second.id, undone.id, "ops", "undo the undo")
    high = market.app.record_funding(TENANT, "bank-a", money("9.00", "USD"), "typo")
    legs = [Entry("platform:treasury", "USD", -800), Entry(FUNDS, "USD", 800)]
    done = market.app.repost(
        TENANT, second.id, _posting_of(market, high.funding.id), legs, "ops", "8.00 arrived"
    )
    assert done.status is DiscrepancyStatus.RESOLVED
    assert market.ledger_balance(FUNDS) == before + 800


def _posting_of(market: ChannelMarket, funding_id: str) -> str:
    with market.app.context.uow() as uow:
        found = uow.ledger.find("channel.funded", funding_id)
    assert found is not None
    return found.id
