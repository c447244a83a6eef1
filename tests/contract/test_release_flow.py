"""Release through a channel on every backend (R-REL-1..4, R-PAY-6, R-PAY-7, R-SEC-1).

Prepare, fund, release, answers by callback (in any order, duplicated), by
polling and on submit, forged, stale and replayed callbacks, timeouts, retries
and permanent failures, returns, cancellation and instant payouts, all through
the simulated bank, with the money invariants checked after each scenario.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from settlement_adapters.channels import SIGNATURE_HEADER, sign
from settlement_adapters.testing import POLICY, ChannelMarket, secret, store_build
from settlement_core.errors import (
    BadSignature,
    CallbackRejected,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
    ReplayedCallback,
    StaleCallback,
    UnknownChannel,
)
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import (
    BillingItemStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    StatementStatus,
)
from settlement_core.model import AnswerSource, InstantPayout, Payout
from settlement_core.money import money
from settlement_core.ports import ItemFilter, Outcome, PayoutFilter
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, ChannelBuild


@pytest.fixture
def market(settlement_build: ChannelBuild) -> ChannelMarket:
    """A channel marketplace with a bank that always pays."""
    return ChannelMarket(settlement_build)


def _faulty(build: ChannelBuild, **faults: Any) -> ChannelMarket:
    return ChannelMarket(build, **faults)


class TestPrepareAndFund:
    """Release summaries, operations totals and funding (R-REL-1, R-REL-2)."""

    def test_summaries_group_payouts_per_channel_and_currency(self, market: ChannelMarket) -> None:
        """Three lanes give three summaries with exact totals; preparing again adds none."""
        market.seller("a1")
        market.seller("a2")
        market.seller("b1", channel="bank-b")
        market.order("a1", "10.00")
        market.order("a2", "5.50")
        market.order("a2", "7.00", "EUR")
        market.order("b1", "3.25")
        market.advance(days=1)
        market.run_jobs()
        made = market.app.prepare_release(market.clock.now())
        summaries = {
            (s.channel, s.currency): s for s in (market.app.get_release(TENANT, i) for i in made)
        }
        assert {k: v.total for k, v in summaries.items()} == {
            ("bank-a", "USD"): money("15.50", "USD"),
            ("bank-a", "EUR"): money("7.00", "EUR"),
            ("bank-b", "USD"): money("3.25", "USD"),
        }
        assert all(s.status is ReleaseSummaryStatus.CREATED for s in summaries.values())
        assert len(summaries[("bank-a", "USD")].payout_ids) == 2
        assert market.app.prepare_release(market.clock.now()) == ()
        report = market.app.operations_report(TENANT)
        to_fund = {(p.channel, p.currency): p.to_fund for p in report.positions}
        assert to_fund[("bank-a", "USD")] == money("15.50", "USD")
        assert len(report.summaries) == 3
        assert_invariants(market)

    def test_partial_funding_keeps_the_summary_created(self, market: ChannelMarket) -> None:
        """Funding below the total changes nothing; the rest funds it, oldest first."""
        market.payouts_due({"s1": "10.00", "s2": "20.00"})
        [summary_id] = market.app.prepare_release(market.clock.now())
        first = market.app.record_funding(TENANT, "bank-a", money("25.00", "USD"), "wire-1")
        assert first.funded == () and not first.replayed
        assert market.app.get_release(TENANT, summary_id).status is ReleaseSummaryStatus.CREATED
        with pytest.raises(InvalidTransition):
            market.app.release(TENANT, summary_id)
        second = market.app.record_funding(TENANT, "bank-a", money("5.00", "USD"), "wire-2")
        assert second.funded == (summary_id,)
        assert market.app.get_release(TENANT, summary_id).status is ReleaseSummaryStatus.FUNDED
        funds = ledger_accounts.channel_funds(TENANT, "bank-a")
        reserved = ledger_accounts.channel_reserved(TENANT, "bank-a")
        assert (market.ledger_balance(funds), market.ledger_balance(reserved)) == (0, 3000)
        assert_invariants(market)

    def test_funding_is_idempotent_by_reference(self, market: ChannelMarket) -> None:
        """A replayed reference changes nothing; other content under it is a conflict."""
        first = market.app.record_funding(TENANT, "bank-a", money("40.00", "USD"), "wire-9")
        again = market.app.record_funding(TENANT, "bank-a", money("40.00", "USD"), "wire-9")
        assert again.replayed and again.funding.id == first.funding.id
        with pytest.raises(IdempotencyConflict):
            market.app.record_funding(TENANT, "bank-a", money("41.00", "USD"), "wire-9")
        with pytest.raises(IdempotencyConflict):
            market.app.record_funding(TENANT, "bank-b", money("40.00", "USD"), "wire-9")
        assert market.ledger_balance(ledger_accounts.channel_funds(TENANT, "bank-a")) == 4000
        with pytest.raises(UnknownChannel):
            market.app.record_funding(TENANT, "nowhere", money("1.00", "USD"), "wire-10")

    def test_funds_on_hand_fund_a_new_summary_at_once(self, market: ChannelMarket) -> None:
        """A channel funded in advance funds the summary as it is prepared."""
        market.app.record_funding(TENANT, "bank-a", money("100.00", "USD"), "advance")
        market.payouts_due({"s1": "10.00"})
        [summary_id] = market.app.prepare_release(market.clock.now())
        assert market.app.get_release(TENANT, summary_id).status is ReleaseSummaryStatus.FUNDED
        report = market.app.operations_report(TENANT)
        [position] = [p for p in report.positions if p.channel == "bank-a"]
        assert position.free_funds == money("90.00", "USD")
        assert position.to_fund == money("0.00", "USD")

    def test_forecast_counts_statements_due_by_then(self, market: ChannelMarket) -> None:
        """Open statements payable by the horizon show as what the channel will need."""
        market.seller("s1")
        market.seller("s2", channel="bank-b")
        market.order("s1", "12.00")
        market.order("s2", "4.00")
        lines = market.app.funding_forecast(TENANT, market.clock.now() + timedelta(days=2))
        assert {(x.channel, x.to_fund) for x in lines} == {
            ("bank-a", money("12.00", "USD")),
            ("bank-b", money("4.00", "USD")),
        }
        assert market.app.funding_forecast(TENANT, market.clock.now()) == ()


class TestJobsInBatches:
    """The release and poll jobs page through more payouts than one batch holds."""

    def test_each_payout_is_summarised_released_and_polled_once(
        self, backend: Engine | None
    ) -> None:
        """Five payouts, batches of two: three summaries, every payout in one, all paid."""
        market = ChannelMarket(store_build(backend, batch_size=2))
        payouts = market.payouts_due({f"s{n}": f"{n}.00" for n in range(1, 6)})
        forecast = market.app.funding_forecast(TENANT, market.clock.now())
        assert [(f.channel, f.awaiting_release) for f in forecast] == [
            ("bank-a", money("15.00", "USD"))
        ]
        made = market.app.prepare_release(market.clock.now())
        summaries = [market.app.get_release(TENANT, s) for s in made]
        assert [len(s.payout_ids) for s in summaries] == [2, 2, 1]
        assert sorted(p for s in summaries for p in s.payout_ids) == sorted(p.id for p in payouts)
        assert market.app.prepare_release(market.clock.now()) == ()
        market.app.record_funding(TENANT, "bank-a", money("15.00", "USD"), "wire-1")
        for summary in summaries:
            market.app.release(TENANT, summary.id)
        ongoing = PayoutFilter(tenant_id=TENANT, status=PayoutStatus.ONGOING)
        pages = [market.app.query_payouts(ongoing, None, 2)]
        while pages[-1].next_cursor is not None:
            pages.append(market.app.query_payouts(ongoing, pages[-1].next_cursor, 2))
        assert [len(page.items) for page in pages] == [2, 2, 1]
        assert [p.id for page in pages for p in page.items] == sorted(p.id for p in payouts)
        market.advance(minutes=40)
        assert market.app.poll_channels(market.clock.now()).changed == 5
        assert {market.status(p) for p in payouts} == {PayoutStatus.PAID}
        assert max(market.paid_at_bank().values()) == 1
        assert_invariants(market)


class TestReleaseAndCallbacks:
    """Release, then answers by callback (R-REL-3, R-SEC-1)."""

    def test_release_sends_each_payout_once_and_callbacks_pay_them(
        self, market: ChannelMarket
    ) -> None:
        """Released payouts go ongoing; callbacks pay them, their items and the ledger."""
        payouts = market.released({"s1": "10.00", "s2": "20.00"})
        assert {market.status(p) for p in payouts} == {PayoutStatus.ONGOING}
        summary = market.app.get_release(TENANT, payouts[0].release_id or "")
        assert summary.status is ReleaseSummaryStatus.RELEASED
        market.app.release(TENANT, summary.id)  # a no-op
        market.advance(hours=1)
        receipts = market.deliver()
        assert sorted(r.applied for r in receipts) == [True, True]
        assert {market.status(p) for p in payouts} == {PayoutStatus.PAID}
        items = market.app.query_items(ItemFilter(tenant_id=TENANT), limit=100).items
        assert {i.status for i in items} == {BillingItemStatus.PAID}
        assert max(market.paid_at_bank().values()) == 1
        disbursed = ledger_accounts.channel_disbursed(TENANT, "bank-a")
        assert market.ledger_balance(disbursed) == 3000
        assert market.ledger_balance(ledger_accounts.channel_reserved(TENANT, "bank-a")) == 0
        assert market.deliver() == []
        assert_invariants(market)

    def test_duplicated_and_reordered_callbacks_apply_once(
        self, settlement_build: ChannelBuild
    ) -> None:
        """Every callback arrives twice, shuffled, including returns: each outcome applies once."""
        market = _faulty(settlement_build, duplicate_rate=1.0, reorder=True, return_rate=1.0)
        payouts = market.released({f"s{i}": f"{i + 1}.00" for i in range(6)})
        market.advance(hours=2)  # past payment and return
        receipts = market.deliver()
        applied = Counter((r.payout_id, r.outcome) for r in receipts if r.applied)
        assert len(receipts) > 2 * len(payouts) - 1
        final = {market.status(p) for p in payouts}
        assert final == {PayoutStatus.RETURNED}
        # Each return applies once; a payment applies once, unless its return overtook it.
        assert all(applied[(p.id, Outcome.RETURNED)] == 1 for p in payouts)
        assert all(applied[(p.id, Outcome.PAID)] <= 1 for p in payouts)
        assert all(p.replaced_by is None for p in payouts)
        assert_invariants(market)

    def test_a_return_overtaking_its_payment_settles_then_returns(
        self, settlement_build: ChannelBuild
    ) -> None:
        """The return's callback handled first: paid then returned, money back once."""
        market = _faulty(settlement_build, return_rate=1.0)
        [payout] = market.released({"s1": "10.00"})
        market.advance(hours=2)
        callbacks = market.bank.deliver()
        for body, headers in reversed(callbacks):
            market.app.handle_callback("bank-a", body, headers)
        assert market.status(payout) is PayoutStatus.RETURNED
        assert market.available(payout.account_id) == 1000
        assert_invariants(market)

    def test_forged_signature_is_refused_and_nothing_stored(self, market: ChannelMarket) -> None:
        """A body changed after signing, or a wrong signature, is BadSignature."""
        [payout] = market.released({"s1": "10.00"})
        market.advance(hours=1)
        [(body, headers)] = market.bank.deliver()
        forged = json.loads(body)
        forged["outcome"] = "failed"
        with pytest.raises(BadSignature):
            market.app.handle_callback("bank-a", json.dumps(forged).encode(), headers)
        with pytest.raises(BadSignature):
            market.app.handle_callback("bank-a", body, {**headers, SIGNATURE_HEADER: "0" * 64})
        with pytest.raises(BadSignature):
            market.app.handle_callback("bank-b", body, headers)  # bank-b signs with its own key
        assert market.status(payout) is PayoutStatus.ONGOING
        sources = {e.source for e in market.app.channel_events(TENANT, payout.id)}
        assert AnswerSource.CALLBACK not in sources
        market.app.handle_callback("bank-a", body, headers)
        assert market.status(payout) is PayoutStatus.PAID

    def test_stale_and_replayed_callbacks_are_refused(self, market: ChannelMarket) -> None:
        """The same nonce twice: ReplayedCallback; outside the time window: StaleCallback."""
        payouts = market.released({"s1": "10.00", "s2": "20.00"})
        market.advance(hours=1)
        (body, headers), (late_body, late_headers) = market.bank.deliver()
        first = market.app.handle_callback("bank-a", body, headers)
        assert first.applied
        with pytest.raises(ReplayedCallback):
            market.app.handle_callback("bank-a", body, headers)
        market.advance(hours=1)
        with pytest.raises(StaleCallback):
            market.app.handle_callback("bank-a", late_body, late_headers)
        [late] = [p for p in payouts if p.id != first.payout_id]
        assert market.status(late) is PayoutStatus.ONGOING
        assert [e.source for e in market.app.channel_events(TENANT, first.payout_id)] == [
            AnswerSource.SUBMIT,
            AnswerSource.CALLBACK,
        ]
        assert_invariants(market)

    def test_a_callback_for_another_channels_payout_is_refused(self, market: ChannelMarket) -> None:
        """A validly signed callback naming a payout of another channel changes nothing."""
        [payout] = market.released({"s1": "10.00"})
        market.advance(hours=1)
        [(body, _)] = market.bank.deliver()
        headers = sign(secret("bank-b"), body, market.clock.now(), "nonce-x")
        with pytest.raises(CallbackRejected):
            market.app.handle_callback("bank-b", body, headers)
        assert market.status(payout) is PayoutStatus.ONGOING


class TestUncertainResults:
    """Timeouts never pay twice (R-REL-4); polling finds the truth."""

    def test_timeouts_then_late_success(self, settlement_build: ChannelBuild) -> None:
        """Answers lost but payouts executed: unknown, then paid by the late answer, once."""
        market = _faulty(settlement_build, timeout_rate=1.0, lost_request_share=0.0)
        payouts = market.released({f"s{i}": "10.00" for i in range(3)})
        assert {market.status(p) for p in payouts} == {PayoutStatus.UNKNOWN}
        assert all(market.available(p.account_id) == 0 for p in payouts)
        assert market.app.retry_failed_payouts(market.clock.now()).sent == 0
        market.advance(minutes=20)
        assert market.app.poll_channels(market.clock.now()).changed == 3  # accepted
        assert {market.status(p) for p in payouts} == {PayoutStatus.ONGOING}
        market.advance(minutes=20)
        market.deliver()
        assert {market.status(p) for p in payouts} == {PayoutStatus.PAID}
        assert set(market.paid_at_bank().values()) == {1}
        assert all(market.bank.times_executed(p.channel_key) == 1 for p in payouts)
        assert_invariants(market)

    def test_a_request_that_never_arrived_is_sent_again(
        self, settlement_build: ChannelBuild
    ) -> None:
        """Unknown until the bank has long said it has no such key; then failed and resent."""
        market = _faulty(settlement_build, timeout_rate=1.0, lost_request_share=1.0)
        [payout] = market.released({"s1": "10.00"})
        assert market.status(payout) is PayoutStatus.UNKNOWN
        market.advance(minutes=20)
        market.app.poll_channels(market.clock.now())  # not found, but maybe still on its way
        assert market.status(payout) is PayoutStatus.UNKNOWN
        market.advance(hours=1)
        market.app.poll_channels(market.clock.now())
        failed = market.app.get_payout(TENANT, payout.id)
        assert (failed.status, failed.failure_code) == (PayoutStatus.FAILED, "not_received")
        assert market.available(payout.account_id) == 0  # still claimed for the retry
        market.bank.timeout_rate = 0.0
        market.advance(minutes=15)
        assert market.app.retry_failed_payouts(market.clock.now()).sent == 1
        market.advance(hours=1)
        market.deliver()
        assert market.status(payout) is PayoutStatus.PAID
        assert market.paid_at_bank() == Counter({payout.id: 1})
        assert_invariants(market)

    def test_an_operator_resolves_an_unknown_payout(self, settlement_build: ChannelBuild) -> None:
        """The bank's portal shows it paid: an operator settles it; late answers are moot."""
        market = _faulty(settlement_build, timeout_rate=1.0, lost_request_share=0.0)
        [payout] = market.released({"s1": "10.00"})
        assert market.status(payout) is PayoutStatus.UNKNOWN
        market.app.record_payout_paid(TENANT, payout.id)
        market.app.record_payout_paid(TENANT, payout.id)  # a repeat changes nothing
        market.advance(hours=1)
        market.deliver()
        market.app.poll_channels(market.clock.now())
        assert market.status(payout) is PayoutStatus.PAID
        events = market.app.channel_events(TENANT, payout.id)
        assert [(e.source, e.applied) for e in events][:2] == [
            (AnswerSource.SUBMIT, True),
            (AnswerSource.OPERATOR, True),
        ]
        assert all(not e.applied for e in events[2:])
        assert_invariants(market)

    def test_polling_before_the_bank_answers_changes_nothing(self, market: ChannelMarket) -> None:
        """A payout the bank is still working on stays ongoing; a poll after latency pays it."""
        [payout] = market.released({"s1": "10.00"})
        market.advance(minutes=20)
        assert market.app.poll_channels(market.clock.now()).changed == 0
        market.advance(minutes=20)
        assert market.app.poll_channels(market.clock.now()).changed == 1
        assert market.status(payout) is PayoutStatus.PAID
        market.deliver()  # the callback comes late: nothing more happens
        assert market.status(payout) is PayoutStatus.PAID
        assert_invariants(market)

    def test_a_bank_outage_fails_fast_and_retries(self, market: ChannelMarket) -> None:
        """Refused before anything was recorded: failed (retryable), resent after backoff."""
        market.bank.outage = True
        [payout] = market.released({"s1": "10.00"})
        assert market.status(payout) is PayoutStatus.FAILED
        market.bank.outage = False
        market.advance(minutes=5)
        assert market.app.retry_failed_payouts(market.clock.now()).sent == 0
        market.advance(minutes=15)
        assert market.app.retry_failed_payouts(market.clock.now()).sent == 1
        market.advance(hours=1)
        market.deliver()
        assert market.status(payout) is PayoutStatus.PAID
        assert market.app.get_payout(TENANT, payout.id).attempts == 2
        assert_invariants(market)


class TestFailures:
    """Retries, permanent failures, returns and cancellation (R-PAY-7)."""

    def test_retries_then_permanent_failure_return_the_money_once(
        self, settlement_build: ChannelBuild
    ) -> None:
        """Retryable failures are resent with backoff; after N tries the money is back."""
        market = _faulty(settlement_build, failure_rate=1.0)
        [payout] = market.released({"s1": "10.00"})
        for attempt in range(1, POLICY.max_attempts + 1):
            market.advance(hours=1)
            market.deliver()
            current = market.app.get_payout(TENANT, payout.id)
            assert current.attempts == attempt
            if attempt < POLICY.max_attempts:
                assert current.status is PayoutStatus.FAILED
                market.advance(hours=2)
                assert market.app.retry_failed_payouts(market.clock.now()).sent == 1
        final = market.app.get_payout(TENANT, payout.id)
        assert final.status is PayoutStatus.FAILED_NO_RETRY
        assert final.failure_code is not None
        assert market.available(payout.account_id) == 1000
        statements = [market.app.get_statement(TENANT, s) for s in payout.statement_ids]
        assert {s.status for s in statements} == {StatementStatus.CARRIED_FORWARD}
        items = market.app.query_items(ItemFilter(tenant_id=TENANT), limit=10).items
        assert {i.status for i in items} == {BillingItemStatus.FAILED}
        funds = ledger_accounts.channel_funds(TENANT, "bank-a")
        assert market.ledger_balance(funds) == 1000  # the reserve went back
        assert market.app.retry_failed_payouts(market.clock.now()).sent == 0
        assert_invariants(market)

    def test_permanent_failure_pays_again_with_the_next_payout(
        self, settlement_build: ChannelBuild
    ) -> None:
        """A permanent code fails at once; the next payout pays it again and is linked."""
        market = _faulty(settlement_build, permanent_failure_rate=1.0)
        [payout] = market.released({"s1": "10.00"})
        market.advance(hours=1)
        market.deliver()
        assert market.status(payout) is PayoutStatus.FAILED_NO_RETRY
        market.order("s1", "5.00")
        market.advance(days=1)
        _, [again_id] = market.run_jobs()
        again = market.app.get_payout(TENANT, again_id)
        assert again.amount == money("15.00", "USD")
        assert again.replaces == (payout.id,)
        assert market.app.get_payout(TENANT, payout.id).replaced_by == again_id
        assert set(payout.statement_ids) < set(again.statement_ids)
        assert_invariants(market)

    def test_a_returned_payout_puts_the_money_back(self, settlement_build: ChannelBuild) -> None:
        """Paid, then returned by the receiving bank: reversed once, paid again later."""
        market = _faulty(settlement_build, return_rate=1.0)
        [payout] = market.released({"s1": "10.00"})
        market.advance(minutes=40)
        market.deliver()
        assert market.status(payout) is PayoutStatus.PAID
        assert market.available(payout.account_id) == 0
        market.advance(minutes=40)
        market.deliver()
        returned = market.app.get_payout(TENANT, payout.id)
        assert returned.status is PayoutStatus.RETURNED
        assert returned.failure_code == "returned_by_receiving_bank"
        assert market.available(payout.account_id) == 1000
        assert market.app.record_payout_returned(TENANT, payout.id).status is returned.status
        assert market.available(payout.account_id) == 1000
        assert_invariants(market)

    def test_cancel_before_release_only(self, market: ChannelMarket) -> None:
        """Cancelling leaves the summary with the rest; a released payout cannot be."""
        payouts = market.payouts_due({"s1": "10.00", "s2": "20.00"})
        [summary_id] = market.app.prepare_release(market.clock.now())
        cancelled = market.app.cancel_payout(TENANT, payouts[0].id, "ops")
        assert cancelled.status is PayoutStatus.CANCELLED
        assert market.app.cancel_payout(TENANT, payouts[0].id, "ops").status is cancelled.status
        summary = market.app.get_release(TENANT, summary_id)
        assert summary.payout_ids == (payouts[1].id,)
        assert summary.total == market.app.get_payout(TENANT, payouts[1].id).amount
        assert market.available(payouts[0].account_id) == 1000
        market.app.record_funding(TENANT, "bank-a", summary.total, "wire-1")
        market.app.release(TENANT, summary_id)
        with pytest.raises(InvalidTransition):
            market.app.cancel_payout(TENANT, payouts[1].id, "ops")
        assert_invariants(market)

    def test_cancel_in_a_funded_summary_frees_its_reserve(self, market: ChannelMarket) -> None:
        """The funded amount set aside for a cancelled payout returns to the channel's funds."""
        payouts = market.payouts_due({"s1": "10.00", "s2": "20.00"})
        [summary_id] = market.app.prepare_release(market.clock.now())
        market.app.record_funding(TENANT, "bank-a", money("30.00", "USD"), "wire-1")
        market.app.cancel_payout(TENANT, payouts[0].id, "ops")
        funds = ledger_accounts.channel_funds(TENANT, "bank-a")
        reserved = ledger_accounts.channel_reserved(TENANT, "bank-a")
        assert (market.ledger_balance(funds), market.ledger_balance(reserved)) == (1000, 2000)
        market.app.release(TENANT, summary_id)
        market.advance(hours=1)
        market.deliver()
        assert market.status(payouts[1]) is PayoutStatus.PAID
        assert market.ledger_balance(reserved) == 0
        assert_invariants(market)


class TestInstantPayouts:
    """Instant payouts from the available balance (R-PAY-6)."""

    def _carried(self, market: ChannelMarket) -> str:
        account = market.seller("s1", rule="threshold")
        market.order("s1", "30.00")
        market.advance(days=1)
        market.run_jobs()  # below the threshold: carried, available
        return account

    def test_instant_payout_pays_now_through_the_channel(self, market: ChannelMarket) -> None:
        """Funded from the channel, sent at once, paid by callback; a replay returns it."""
        account = self._carried(market)
        market.app.record_funding(TENANT, "bank-a", money("100.00", "USD"), "wire-1")
        cmd = InstantPayout(
            tenant_id=TENANT, account_id=account, amount=money("20.00", "USD"), key="now-1"
        )
        payout = market.app.instant_payout(cmd)
        assert payout.status is PayoutStatus.ONGOING
        assert market.available(account) == 1000
        assert market.app.instant_payout(cmd).id == payout.id
        with pytest.raises(IdempotencyConflict):
            market.app.instant_payout(
                InstantPayout(
                    tenant_id=TENANT, account_id=account, amount=money("1.00", "USD"), key="now-1"
                )
            )
        market.advance(hours=1)
        market.deliver()
        assert market.status(payout) is PayoutStatus.PAID
        assert market.bank.times_executed(payout.channel_key) == 1
        assert_invariants(market)

    def test_instant_payout_is_bounded_by_balance_and_funds(self, market: ChannelMarket) -> None:
        """More than the available balance, or than the channel holds, is refused."""
        account = self._carried(market)

        def ask(amount: str, key: str) -> Payout:
            return market.app.instant_payout(
                InstantPayout(
                    tenant_id=TENANT, account_id=account, amount=money(amount, "USD"), key=key
                )
            )

        with pytest.raises(InsufficientBalance):
            ask("20.00", "k1")  # the channel holds nothing
        market.app.record_funding(TENANT, "bank-a", money("100.00", "USD"), "wire-1")
        with pytest.raises(InsufficientBalance):
            ask("30.01", "k2")
        ask("30.00", "k3")
        assert market.available(account) == 0
        page = market.app.query_payouts(PayoutFilter(tenant_id=TENANT), limit=10)
        assert len(page.items) == 1
        assert_invariants(market)
