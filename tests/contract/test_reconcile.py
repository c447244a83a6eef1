"""Reconciliation on every backend: clean data reports nothing; each corruption, its kind.

Each test corrupts exactly one thing, directly in storage (the memory adapter's
database, or an UPDATE on the SQL tables) or in the channel's report, and
expects exactly the discrepancy that describes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine

from settlement_adapters.channels import SettlementReportRow
from settlement_adapters.testing import ChannelMarket, Tamper
from settlement_core.errors import ValidationError
from settlement_core.lifecycle import DiscrepancyStatus, PayoutStatus
from settlement_core.model import DiscrepancyKind as K
from settlement_core.model import ItemKind, OpenAccount, Payout
from settlement_core.money import money
from settlement_core.ports import Outcome
from settlement_core.testing.marketplace import TENANT, ChannelBuild

DAY = timedelta(days=1)


@pytest.fixture
def market(settlement_build: ChannelBuild) -> ChannelMarket:
    """A channel marketplace on the backend under test."""
    return ChannelMarket(settlement_build)


@pytest.fixture
def storage(market: ChannelMarket, backend: Engine | None) -> Tamper:
    """Direct access to the backend's rows."""
    return Tamper(market.app, backend)


def _paid(market: ChannelMarket) -> list[Payout]:
    payouts = market.released({"s1": "10.00", "s2": "20.00"})
    market.advance(hours=1)
    market.deliver()
    return [market.app.get_payout(TENANT, p.id) for p in payouts]


def _kinds(market: ChannelMarket, **options: Any) -> list[K]:
    report = market.app.reconcile(TENANT, market.clock.now(), **options)
    return sorted(f.kind for f in report.findings)


class TestCleanData:
    """Nothing is reported when nothing is wrong."""

    def test_a_busy_month_reconciles_clean(self, settlement_build: ChannelBuild) -> None:
        """Failures, retries, returns, refunds, carried balances: no finding, nothing recorded."""
        market = ChannelMarket(settlement_build, failure_rate=0.3, return_rate=0.3, seed=3)
        for day in range(6):
            for shop in ("s1", "s2", "s3"):
                market.seller(shop)
                market.order(shop, f"{day + 3}.25")
            market.order("s2", "-1.00", kind=ItemKind.REFUND)
            market.advance(days=1)
            market.run_jobs()
            market.app.prepare_release(market.clock.now())
            for position in market.app.operations_report(TENANT).positions:
                if position.to_fund.amount > 0:
                    market.app.record_funding(
                        TENANT, position.channel, position.to_fund, f"w{day}{position.channel}"
                    )
            for summary in market.app.operations_report(TENANT).summaries:
                if summary.status.value == "funded":
                    market.app.release(TENANT, summary.id)
            for _ in range(3):
                market.advance(hours=1)
                market.deliver()
                market.app.retry_failed_payouts(market.clock.now())
        report = market.app.reconcile(TENANT, market.clock.now(), stuck_after=timedelta(days=2))
        assert report.findings == () and report.recorded == ()
        assert report.checked["statements"] > 0 and report.checked["payouts"] > 0
        rows = market.bank.report_rows()
        start = market.clock.now() - timedelta(days=30)
        channel = market.app.reconcile_channel(
            TENANT, "bank-a", rows, since=start, until=market.clock.now()
        )
        assert channel.findings == ()

    def test_unknown_checks_are_refused(self, market: ChannelMarket) -> None:
        """A misspelt check is an error, not a silent no-op."""
        with pytest.raises(ValidationError):
            market.app.reconcile(TENANT, market.clock.now(), checks=["ledgr"])


class TestCorruption:
    """Each corruption is reported as exactly its own kind."""

    def test_statement_total(self, market: ChannelMarket, storage: Tamper) -> None:
        """A running total off its items."""
        [payout] = _paid(market)[:1]
        storage.add_to_statement_total(payout.statement_ids[0], 7)
        assert _kinds(market, checks=["statements"]) == [K.STATEMENT_TOTAL]
        assert _kinds(market, checks=["payouts", "ledger", "stuck"]) == []

    def test_payout_amount(self, market: ChannelMarket, storage: Tamper) -> None:
        """A payout's amount off its sources and its posting (both named)."""
        payout = _paid(market)[0]
        storage.add_to_payout_amount(payout.id, 1)
        report = market.app.reconcile(TENANT, market.clock.now(), checks=["payouts"])
        assert sorted(f.subjects for f in report.findings) == [
            (payout.id, "its posting"),
            (payout.id, "its sources"),
        ]
        assert {f.kind for f in report.findings} == {K.PAYOUT_AMOUNT}

    def test_balance_cache(self, market: ChannelMarket, storage: Tamper) -> None:
        """A cached balance off the sum of its entries."""
        payout = _paid(market)[0]
        storage.add_to_balance(f"party:{payout.account_id}:available", "USD", 5)
        report = market.app.reconcile(TENANT, market.clock.now())
        [finding] = report.findings
        assert finding.kind is K.BALANCE_CACHE
        assert (finding.expected_minor, finding.actual_minor) == (0, 5)

    def test_unbalanced_transaction(self, market: ChannelMarket, storage: Tamper) -> None:
        """A leg changed after posting: the transaction, and so its currency, do not balance."""
        payout = _paid(market)[0]
        storage.add_to_first_leg(payout.transaction_id, 3)
        report = market.app.reconcile(TENANT, market.clock.now(), checks=["ledger"])
        assert sorted(f.kind for f in report.findings) == sorted(
            [K.UNBALANCED_TRANSACTION, K.LEDGER_TOTAL]
        )
        [unbalanced] = [f for f in report.findings if f.kind is K.UNBALANCED_TRANSACTION]
        assert unbalanced.subjects == (payout.transaction_id,)
        assert unbalanced.actual_minor == 3

    def test_collection_balance(self, market: ChannelMarket, storage: Tamper) -> None:
        """A gross party's collection off its receivable balance (clean before the edit)."""
        account = market.app.get_or_create_account(
            OpenAccount(tenant_id=TENANT, shop_id="g1", settlement_mode="gross")
        ).account.id
        market.order("g1", "50.00")
        market.order("g1", "-4.00", kind=ItemKind.FEE)
        market.advance(days=1)
        market.run_jobs()
        [billed] = market.app.query_collections(TENANT, account_id=account).items
        assert market.app.reconcile(TENANT, market.clock.now(), dry_run=True).clean
        storage.add_to_collected(billed.id, 100)
        report = market.app.reconcile(TENANT, market.clock.now(), checks=["collections"])
        [finding] = report.findings
        assert (finding.kind, finding.subjects) == (
            K.COLLECTION_BALANCE,
            (f"party:{account}:receivable",),
        )
        assert (finding.expected_minor, finding.actual_minor) == (-300, -400)
        assert report.checked["collections"] == 1

    def test_stuck_states(self, market: ChannelMarket) -> None:
        """A payout with no answer (the bank down), a funded summary, an unclosed statement."""
        market.bank.timeout_rate = 1.0
        [stuck] = market.released({"s1": "10.00"})
        market.payouts_due({"s2": "5.00"})
        market.app.prepare_release(market.clock.now())
        market.app.record_funding(TENANT, "bank-a", money("5.00", "USD"), "wire-2")
        market.seller("s3")
        market.order("s3", "1.00")  # never closed: nobody runs close_cycles below
        market.bank.outage = True
        market.advance(days=3)
        kinds = _kinds(market, checks=["stuck"])
        assert kinds == [K.STUCK_PAYOUT, K.STUCK_RELEASE, K.STUCK_STATEMENT]
        assert market.status(stuck) is PayoutStatus.UNKNOWN

    def test_stuck_payout_the_channel_can_answer_is_settled_not_reported(
        self, market: ChannelMarket
    ) -> None:
        """Asked during reconciliation, the bank says paid: the payout is paid, nothing found."""
        market.bank.timeout_rate = 1.0
        market.bank.lost_request_share = 0.0
        [payout] = market.released({"s1": "10.00"})
        market.advance(days=2)
        assert _kinds(market, checks=["stuck"]) == []
        assert market.status(payout) is PayoutStatus.PAID


class TestChannelReport:
    """Payouts against the channel's settlement report (one row per attempt)."""

    def _rows(self, market: ChannelMarket) -> list[SettlementReportRow]:
        _paid(market)
        return market.bank.report_rows()

    def _check(self, market: ChannelMarket, rows: list[SettlementReportRow], **options: Any) -> Any:
        now = market.clock.now()
        return market.app.reconcile_channel(
            TENANT, "bank-a", rows, since=now - DAY * 5, until=now, **options
        )

    def test_each_kind_of_difference(self, market: ChannelMarket) -> None:
        """Missing on either side, amount, currency and status mismatches, one each."""
        first, second = self._rows(market)
        ghost = attrs.evolve(first, idempotency_key="no-such-payout.1", provider_ref="x")
        cases = {
            K.MISSING_AT_CHANNEL: [second],
            K.MISSING_OURS: [first, second, ghost],
            K.AMOUNT_MISMATCH: [attrs.evolve(first, amount_minor=first.amount_minor + 1), second],
            K.CURRENCY_MISMATCH: [attrs.evolve(first, currency="EUR"), second],
            K.STATUS_MISMATCH: [attrs.evolve(first, status=Outcome.FAILED), second],
        }
        for kind, rows in cases.items():
            report = self._check(market, rows, dry_run=True)
            assert [f.kind for f in report.findings] == [kind], kind
            assert report.recorded == ()
        assert market.app.discrepancies(TENANT).items == []

    def test_tolerance_absorbs_small_amount_differences(self, market: ChannelMarket) -> None:
        """A difference within the tolerance is no finding; beyond it, one."""
        first, second = self._rows(market)
        rows = [attrs.evolve(first, amount_minor=first.amount_minor + 2), second]
        assert self._check(market, rows, amount_tolerance_minor=2).findings == ()
        assert len(self._check(market, rows, amount_tolerance_minor=1).findings) == 1

    def test_findings_are_recorded_once_and_worked(self, market: ChannelMarket) -> None:
        """Recorded once however often the check runs; resolved with who and why."""
        first, second = self._rows(market)
        rows = [attrs.evolve(first, amount_minor=first.amount_minor + 1), second]
        report = self._check(market, rows)
        [recorded] = report.recorded
        assert self._check(market, rows).recorded == ()
        page = market.app.discrepancies(TENANT, DiscrepancyStatus.OPEN)
        assert [d.id for d in page.items] == [recorded]
        done = market.app.resolve_discrepancy(TENANT, recorded, "ops", "bank fee, agreed")
        assert (done.status, done.resolved_by) == (DiscrepancyStatus.RESOLVED, "ops")
        again = market.app.resolve_discrepancy(TENANT, recorded, "ops", "bank fee, agreed")
        assert again.version == done.version
        assert market.app.discrepancies(TENANT, DiscrepancyStatus.OPEN).items == []
        assert self._check(market, rows).recorded == ()


class TestMatching:
    """Channels that split a payment, batch several, or report late."""

    def _rows(self, market: ChannelMarket) -> list[SettlementReportRow]:
        _paid(market)
        return market.bank.report_rows()

    def _kinds(
        self, market: ChannelMarket, rows: list[SettlementReportRow], **options: Any
    ) -> list[K]:
        now = market.clock.now()
        report = market.app.reconcile_channel(
            TENANT, "bank-a", rows, since=now - DAY, until=now, dry_run=True, **options
        )
        return sorted(f.kind for f in report.findings)

    def test_one_submission_paid_in_parts(self, market: ChannelMarket) -> None:
        """Two rows under one key summing to the payout match one-to-many only."""
        first, second = self._rows(market)
        part = first.amount_minor // 3
        parts = [
            attrs.evolve(first, amount_minor=part),
            attrs.evolve(first, amount_minor=first.amount_minor - part, provider_ref="p2"),
        ]
        assert self._kinds(market, [*parts, second], matching="one_to_many") == []
        assert self._kinds(market, [*parts, second]) == [K.AMOUNT_MISMATCH, K.AMOUNT_MISMATCH]
        short = [parts[0], second]
        assert self._kinds(market, short, matching="one_to_many") == [K.AMOUNT_MISMATCH]

    def test_several_payouts_settled_in_one_transfer(self, market: ChannelMarket) -> None:
        """One batch row for both payouts matches many-to-one within the date tolerance."""
        first, second = self._rows(market)
        batch = attrs.evolve(
            first,
            idempotency_key="batch-2025-03-04",
            amount_minor=first.amount_minor + second.amount_minor,
        )
        window = timedelta(minutes=5)
        assert self._kinds(market, [batch], matching="many_to_one", date_tolerance=window) == []
        assert self._kinds(market, [batch]) == [
            K.MISSING_AT_CHANNEL,
            K.MISSING_AT_CHANNEL,
            K.MISSING_OURS,
        ]
        off = attrs.evolve(batch, amount_minor=batch.amount_minor + 5)
        assert self._kinds(market, [off], matching="many_to_one", date_tolerance=window) == [
            K.MISSING_AT_CHANNEL,
            K.MISSING_AT_CHANNEL,
            K.MISSING_OURS,
        ]

    def test_a_late_row_is_not_missing_within_the_date_tolerance(
        self, market: ChannelMarket
    ) -> None:
        """A payout sent just before the window's end may be in the next report."""
        first, _ = self._rows(market)
        now = market.clock.now()
        sent = max(r.submitted_at for r in market.bank.report_rows())
        until = sent + timedelta(minutes=1)
        report = market.app.reconcile_channel(
            TENANT, "bank-a", [first], since=now - DAY, until=until, dry_run=True
        )
        assert [f.kind for f in report.findings] == [K.MISSING_AT_CHANNEL]
        patient = market.app.reconcile_channel(
            TENANT,
            "bank-a",
            [first],
            since=now - DAY,
            until=until,
            date_tolerance=timedelta(minutes=2),
            dry_run=True,
        )
        assert patient.findings == ()


class TestRecentCheck:
    """The near-real-time check (R-REC-2): only what changed since its cursor."""

    def test_it_sees_what_changed_and_keeps_its_cursor(
        self, market: ChannelMarket, storage: Tamper
    ) -> None:
        """Old damage waits for the full check; a statement that gets new items is recounted."""
        market.seller("s1")
        first = market.order("s1", "10.00")
        market.advance(hours=1)
        assert market.app.reconcile_recent(TENANT, market.clock.now()).findings == ()
        storage.add_to_statement_total(first.statement_id, 4)
        market.advance(hours=1)
        quiet = market.app.reconcile_recent(TENANT, market.clock.now())
        assert (quiet.findings, quiet.checked["statements"]) == ((), 0)
        assert _kinds(market, checks=["statements"]) == [K.STATEMENT_TOTAL]
        market.order("s1", "1.00")  # the same open statement
        market.advance(hours=1)
        noticed = market.app.reconcile_recent(TENANT, market.clock.now())
        assert [f.kind for f in noticed.findings] == [K.STATEMENT_TOTAL]
        assert noticed.recorded == ()  # the full check recorded it already

    def test_a_dry_run_leaves_the_cursor(self, market: ChannelMarket, storage: Tamper) -> None:
        """Dry runs record nothing and do not move the cursor."""
        market.seller("s1")
        receipt = market.order("s1", "10.00")
        storage.add_to_statement_total(receipt.statement_id, 1)
        market.advance(hours=1)
        dry = market.app.reconcile_recent(TENANT, market.clock.now(), dry_run=True)
        assert [f.kind for f in dry.findings] == [K.STATEMENT_TOTAL] and dry.recorded == ()
        real = market.app.reconcile_recent(TENANT, market.clock.now())
        assert len(real.recorded) == 1
