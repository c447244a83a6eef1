"""Contract suites every adapter must pass, with the same results as the memory adapter.

Use: in the adapter's test module define a fixture `settlement_build` returning
a `Build` (rules, clock, fx -> Settlement on a fresh, empty store), then
subclass each suite: `class TestMyIngest(IngestContract): pass`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import attrs
import pytest

from settlement_core.errors import (
    ConcurrencyConflict,
    ExcessPrecision,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidIdentifier,
    InvalidTimestamp,
    InvalidTransition,
    NegativeBalanceLimitExceeded,
    NotFound,
    ValidationError,
)
from settlement_core.ledger import postings
from settlement_core.lifecycle import (
    BillingItemStatus,
    ChargeStatus,
    FreezeStatus,
    PayoutStatus,
    StatementStatus,
)
from settlement_core.model import (
    Account,
    AmountBasis,
    ApprovePayout,
    ItemKind,
    OpenAccount,
    ProposeCharge,
)
from settlement_core.money import Money, money
from settlement_core.ports import ItemFilter, PayoutFilter, StatementFilter, UnitOfWork
from settlement_core.rules import Cycle, PayoutRule
from settlement_core.services.queries import Balance
from settlement_core.testing.fakes import RecordingPublisher
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import START, TENANT, Build, Marketplace

UowFactory = Callable[[], UnitOfWork]


class _Suite:
    @pytest.fixture
    def market(self, settlement_build: Build) -> Marketplace:
        """A fresh marketplace on the adapter under test."""
        return Marketplace(settlement_build)


class AccountContract(_Suite):
    """get_or_create_account (R-ACC-1) and holds."""

    def test_get_or_create_is_idempotent_by_shop_id(self, market: Marketplace) -> None:
        """The same shop id always resolves to the same account."""
        cmd = OpenAccount(tenant_id=TENANT, shop_id="s1")
        first = market.app.get_or_create_account(cmd)
        again = market.app.get_or_create_account(cmd)
        assert first.created and not again.created
        assert first.account.id == again.account.id

    def test_concurrent_creators_get_one_account(self, market: Marketplace) -> None:
        """Eight threads opening one shop at once resolve to a single account."""
        cmd = OpenAccount(tenant_id=TENANT, shop_id="race")
        with ThreadPoolExecutor(max_workers=8) as pool:
            receipts = list(pool.map(lambda _: market.app.get_or_create_account(cmd), range(8)))
        assert len({r.account.id for r in receipts}) == 1
        assert sum(r.created for r in receipts) == 1

    def test_rule_is_chosen_on_first_sight(self, market: Marketplace) -> None:
        """Segment attributes pick the rule; an override beats them."""
        pro = market.shop("pro", seller_type="pro")
        forced = market.shop("forced", rule="monthly", seller_type="pro")
        plain = market.shop("plain")
        assert market.app.get_account(TENANT, pro).rule_id == "weekly"
        assert market.app.get_account(TENANT, forced).rule_id == "monthly"
        assert market.app.get_account(TENANT, plain).rule_id == "daily"

    def test_tenants_never_see_each_others_accounts(self, market: Marketplace) -> None:
        """Looking up an account id under another tenant is NotFound."""
        account_id = market.shop("s1")
        with pytest.raises(NotFound):
            market.app.get_account("tenant-b", account_id)
        assert market.app.find_account("tenant-b", "s1") is None

    def test_hold_and_release_are_idempotent(self, market: Marketplace) -> None:
        """Holding twice and releasing twice end in the same state."""
        account_id = market.shop("s1")
        market.app.hold_account(TENANT, account_id)
        assert market.app.hold_account(TENANT, account_id).is_held
        market.app.release_account_hold(TENANT, account_id)
        assert not market.app.release_account_hold(TENANT, account_id).is_held


class IngestContract(_Suite):
    """record_billing_item(s) (R-ING-1, 2, 3, 5)."""

    def test_item_books_statement_and_ledger_together(self, market: Marketplace) -> None:
        """One item updates its statement total and the pending balance."""
        account_id = market.shop("s1")
        receipt = market.order("s1", "12.30")
        statement = market.app.get_statement(TENANT, receipt.statement_id)
        assert statement.total == money("12.30", "USD")
        assert market.app.balance(TENANT, account_id).pending == {"USD": money("12.30", "USD")}
        assert_invariants(market)

    def test_true_replay_returns_the_first_result(self, market: Marketplace) -> None:
        """The same key and content: same item, flagged as a replay, booked once."""
        account_id = market.shop("s1")
        cmd = market.command("s1", "10.00", key="k1")
        first = market.app.record_billing_item(cmd)
        again = market.app.record_billing_item(cmd)
        assert again.replayed and not first.replayed
        assert again.item_id == first.item_id
        assert market.app.balance(TENANT, account_id).pending["USD"] == money("10.00", "USD")

    def test_replay_with_other_content_is_a_conflict(self, market: Marketplace) -> None:
        """The same key with another amount raises IdempotencyConflict and stores nothing."""
        account_id = market.shop("s1")
        market.app.record_billing_item(market.command("s1", "10.00", key="k1", order_id="o1"))
        with pytest.raises(IdempotencyConflict):
            market.app.record_billing_item(market.command("s1", "11.00", key="k1", order_id="o1"))
        assert market.app.balance(TENANT, account_id).pending["USD"] == money("10.00", "USD")

    def test_order_total_books_only_the_difference(self, market: Marketplace) -> None:
        """Re-pricing an order books new total minus what was booked (R-ING-3)."""
        account_id = market.shop("s1")
        market.order("s1", "100.00", order_id="o1", key="o1:1", basis=AmountBasis.ORDER_TOTAL)
        cut = market.order(
            "s1",
            "70.00",
            order_id="o1",
            key="o1:2",
            kind=ItemKind.REFUND,
            basis=AmountBasis.ORDER_TOTAL,
        )
        assert cut.amount == money("-30.00", "USD")
        market.order("s1", "70.00", order_id="o1", key="o1:3", basis=AmountBasis.ORDER_TOTAL)
        assert market.app.balance(TENANT, account_id).pending["USD"] == money("70.00", "USD")

    def test_unknown_shop_is_not_found_and_stores_nothing(self, market: Marketplace) -> None:
        """Items need an account first."""
        with pytest.raises(NotFound):
            market.order("nobody", "1.00")
        page = market.app.query_items(ItemFilter(tenant_id=TENANT))
        assert list(page.items) == []

    def test_batch_is_all_or_nothing(self, market: Marketplace) -> None:
        """A conflict inside a batch leaves none of the batch stored."""
        account_id = market.shop("s1")
        market.app.record_billing_item(market.command("s1", "5.00", key="dup", order_id="o9"))
        batch = [
            market.command("s1", "1.00", key="new-1"),
            market.command("s1", "2.00", key="dup", order_id="o-other"),
        ]
        with pytest.raises(IdempotencyConflict):
            market.app.record_billing_items(batch)
        assert market.app.balance(TENANT, account_id).pending["USD"] == money("5.00", "USD")
        assert market.app.query_items(ItemFilter(tenant_id=TENANT, order_id="new-1")).items == []

    def test_batch_books_every_item(self, market: Marketplace) -> None:
        """A batch of many items sums exactly."""
        account_id = market.shop("s1")
        market.shop("s2")
        batch = [market.command(f"s{1 + i % 2}", "0.01") for i in range(200)]
        receipts = market.app.record_billing_items(batch)
        assert len({r.item_id for r in receipts}) == 200
        assert market.app.balance(TENANT, account_id).pending["USD"] == money("1.00", "USD")
        assert_invariants(market)

    def test_future_items_are_refused(self, market: Marketplace) -> None:
        """An item dated in the future is a typed error."""
        market.shop("s1")
        with pytest.raises(InvalidTimestamp):
            market.order("s1", "1.00", at=market.clock.now() + timedelta(days=1))

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"occurred_at": START.replace(tzinfo=None)}, InvalidTimestamp),
            ({"occurred_at": "2025-03-03"}, InvalidTimestamp),
            ({"amount": money("-1.00", "USD")}, InvalidAmount),
            ({"kind": ItemKind.REFUND}, InvalidAmount),
            ({"kind": ItemKind.FEE}, InvalidAmount),
            ({"kind": "sale"}, ValidationError),
            ({"amount": Decimal("1.00")}, InvalidAmount),
            ({"amount": Money("1.005", "USD")}, ExcessPrecision),
            ({"amount": Money("1.5", "JPY")}, ExcessPrecision),
            ({"key": ""}, InvalidIdentifier),
            ({"key": "k" * 200}, InvalidIdentifier),
            ({"order_id": "caf\u00e9"}, InvalidIdentifier),
            ({"tenant_id": None}, InvalidIdentifier),
            ({"basis": "order_total"}, ValidationError),
            ({"basis": AmountBasis.ORDER_TOTAL, "amount": money("-1.00", "USD")}, InvalidAmount),
        ],
    )
    def test_bad_input_is_a_typed_error_and_stores_nothing(
        self, market: Marketplace, change: dict[str, object], error: type[Exception]
    ) -> None:
        """Every malformed request raises its typed error; storage is unchanged."""
        account_id = market.shop("s1")
        good = market.command("s1", "1.00")
        with pytest.raises(error):
            market.app.record_billing_item(attrs.evolve(good, **cast(dict[str, Any], change)))
        assert market.app.query_items(ItemFilter(tenant_id=TENANT)).items == []
        assert market.app.balance(TENANT, account_id) == Balance(pending={}, available={})
        assert market.app.record_billing_item(good).replayed is False


class CycleContract(_Suite):
    """Statements per cycle and close_cycles (R-CYC-1, 2)."""

    def test_items_of_one_day_share_a_daily_statement(self, market: Marketplace) -> None:
        """Two items on the same day land on one statement; the next day on another."""
        market.shop("s1")
        a = market.order("s1", "1.00")
        b = market.order("s1", "2.00")
        market.advance(days=1)
        c = market.order("s1", "3.00")
        assert a.statement_id == b.statement_id != c.statement_id

    def test_close_marks_items_statemented_and_recounts(self, market: Marketplace) -> None:
        """Closing a finished period closes its statement and its items."""
        market.shop("s1")
        receipt = market.order("s1", "4.00")
        market.advance(days=1)
        report = market.app.close_cycles(market.clock.now())
        assert report.closed == 1 and report.mismatched == ()
        statement = market.app.get_statement(TENANT, receipt.statement_id)
        assert statement.status is StatementStatus.CLOSED
        assert statement.recount_minor == statement.total_minor == 400
        [item] = market.app.get_items(TENANT, [receipt.item_id])
        assert item.status is BillingItemStatus.STATEMENTED

    def test_close_records_a_recount_that_disagrees(self, market: Marketplace) -> None:
        """A running total off its items: the close stores the recount, says so, pays nothing."""
        market.shop("s1")
        market.shop("s2")
        bad = market.order("s1", "4.00")
        good = market.order("s2", "5.00")
        with market.app.context.uow() as uow:
            uow.statements.get(TENANT, bad.statement_id).total_minor += 1  # a lost update
            uow.commit()
        market.advance(days=1)
        report = market.app.close_cycles(market.clock.now())
        assert report.closed == 2 and report.mismatched == (bad.statement_id,)
        statement = market.app.get_statement(TENANT, bad.statement_id)
        assert statement.status is StatementStatus.CLOSED and statement.has_mismatch
        assert (statement.total_minor, statement.recount_minor) == (401, 400)
        assert not market.app.get_statement(TENANT, good.statement_id).has_mismatch
        publisher = RecordingPublisher()
        market.app.publish_pending(publisher)
        closes = [
            m.payload["aggregate_id"]
            for m in publisher.messages
            if m.name == "StatusChanged" and m.payload["trigger"] == "close"
        ]
        assert len(closes) == 2 and set(closes) == {bad.statement_id, good.statement_id}
        [mismatch] = [m for m in publisher.messages if m.name == "StatementTotalMismatch"]
        assert mismatch.payload["statement_id"] == bad.statement_id
        market.advance(days=2)
        paid = market.app.create_payouts(market.clock.now())
        assert paid.skipped_mismatch == (bad.statement_id,) and len(paid.created) == 1

    def test_close_is_idempotent(self, market: Marketplace) -> None:
        """A second close run finds nothing to do."""
        market.shop("s1")
        market.order("s1", "4.00")
        market.advance(days=1)
        market.app.close_cycles(market.clock.now())
        assert market.app.close_cycles(market.clock.now()).closed == 0

    def test_late_item_goes_to_the_running_cycle(self, market: Marketplace) -> None:
        """An item dated in a closed period nets against the current one."""
        market.shop("s1")
        first = market.order("s1", "4.00")
        occurred = market.clock.now()
        market.advance(days=1)
        market.app.close_cycles(market.clock.now())
        late = market.order("s1", "-1.00", kind=ItemKind.REFUND, at=occurred)
        assert late.statement_id != first.statement_id
        statement = market.app.get_statement(TENANT, late.statement_id)
        assert statement.period.contains(market.clock.now())

    def test_rule_change_applies_from_the_next_cycle(self, market: Marketplace) -> None:
        """The open statement keeps its rule; the next one uses the new rule."""
        account_id = market.shop("s1")
        first = market.order("s1", "1.00")
        market.app.assign_rule(TENANT, account_id, "weekly")
        same = market.order("s1", "1.00")
        market.advance(days=1)
        nxt = market.order("s1", "1.00")
        assert first.statement_id == same.statement_id
        old = market.app.get_statement(TENANT, first.statement_id)
        new = market.app.get_statement(TENANT, nxt.statement_id)
        assert old.rule.rule_id == "daily" and new.rule.rule_id == "weekly"
        assert new.period.start == old.period.end

    def test_periods_follow_the_account_time_zone(self, market: Marketplace) -> None:
        """A New York shop's day runs from local midnight, 23 hours on the DST change."""
        market.shop("ny", time_zone="America/New_York")
        first = market.order("ny", "1.00")  # 2025-03-02 19:00 in New York
        statement = market.app.get_statement(TENANT, first.statement_id)
        assert statement.period.start == datetime(2025, 3, 2, 5, tzinfo=UTC)
        assert statement.period.end == datetime(2025, 3, 3, 5, tzinfo=UTC)
        market.advance(days=6, hours=12)  # 2025-03-09, the day clocks go forward
        dst = market.app.get_statement(TENANT, market.order("ny", "1.00").statement_id)
        assert dst.period.end - dst.period.start == timedelta(hours=23)

    def test_new_rule_version_applies_from_the_next_cycle(self, market: Marketplace) -> None:
        """A version taking effect mid-cycle leaves the open statement on the old one."""
        market.shop("s1")
        first = market.order("s1", "30.00")
        market.rules.define(
            PayoutRule(
                rule_id="daily",
                version=2,
                cycle=Cycle.daily(),
                payment_threshold=money("50.00", "USD"),
                effective_from=market.clock.now() + timedelta(hours=12),
            )
        )
        market.advance(hours=13)
        same = market.order("s1", "1.00")
        market.advance(hours=11)
        second = market.order("s1", "30.00")
        assert first.statement_id == same.statement_id
        old = market.app.get_statement(TENANT, first.statement_id)
        new = market.app.get_statement(TENANT, second.statement_id)
        assert (old.rule.version, new.rule.version) == (1, 2)
        _, created = market.run_jobs()
        assert len(created) == 1  # the old statement pays under v1: no threshold
        market.advance(days=1)
        assert market.run_jobs() == (1, ())  # 30.00 under v2's 50.00 threshold: carried


class PayoutContract(_Suite):
    """create_payouts and payout outcomes (R-PAY-1..5, R-PAY-7)."""

    def test_one_payout_per_account_and_currency(self, market: Marketplace) -> None:
        """Two currencies without a payout currency give two payouts."""
        market.shop("s1")
        market.order("s1", "10.00", "USD")
        market.order("s1", "9.00", "EUR")
        market.advance(days=1)
        _, created = market.run_jobs()
        amounts = sorted(str(market.app.get_payout(TENANT, p).amount.amount) for p in created)
        assert amounts == ["10.00", "9.00"]
        assert_invariants(market)

    def test_payouts_wait_for_the_payout_date(self, market: Marketplace) -> None:
        """A weekly rule with 2 delay days pays on Wednesday after the week ends."""
        market.shop("pro", seller_type="pro")
        market.order("pro", "10.00")
        market.advance(days=7)  # next Monday: closed but not payable yet
        assert market.run_jobs() == (1, ())
        market.advance(days=2)  # Wednesday
        _, created = market.run_jobs()
        assert len(created) == 1

    def test_below_threshold_carries_forward_then_pays_all(self, market: Marketplace) -> None:
        """Balances under the threshold carry on; once above, one payout takes all."""
        market.shop("s1", rule="threshold")
        first = market.order("s1", "30.00")
        market.advance(days=1)
        assert market.run_jobs() == (1, ())
        carried = market.app.get_statement(TENANT, first.statement_id)
        assert carried.status is StatementStatus.CARRIED_FORWARD
        assert carried.carried_forward_minor == 3000
        second = market.order("s1", "25.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        payout = market.app.get_payout(TENANT, payout_id)
        assert payout.amount == money("55.00", "USD")
        assert set(payout.statement_ids) == {first.statement_id, second.statement_id}
        paid = market.app.get_statement(TENANT, second.statement_id)
        assert paid.brought_forward_minor == 3000
        assert_invariants(market)

    def test_held_account_accrues_but_is_not_paid(self, market: Marketplace) -> None:
        """Held accounts (by rule or by operator) are never paid until released."""
        by_rule = market.shop("r", rule="hold")
        by_op = market.shop("o")
        market.app.hold_account(TENANT, by_op)
        market.order("r", "10.00")
        market.order("o", "10.00")
        market.advance(days=1)
        assert market.run_jobs() == (2, ())
        market.app.release_account_hold(TENANT, by_op)
        market.order("o", "1.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == money("11.00", "USD")
        assert market.app.balance(TENANT, by_rule).available == {"USD": money("10.00", "USD")}

    def test_manual_payouts_wait_for_approval(self, market: Marketplace) -> None:
        """A manual rule's payout starts pending approval; approval is idempotent."""
        market.shop("m", rule="manual")
        market.order("m", "10.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).status is PayoutStatus.PENDING_APPROVAL
        with pytest.raises(InvalidTransition):
            market.app.mark_payout_submitted(TENANT, payout_id)
        cmd = ApprovePayout(tenant_id=TENANT, payout_id=payout_id, approved_by="ops-1")
        market.app.approve_payout(cmd)
        assert market.app.approve_payout(cmd).status is PayoutStatus.CREATED

    def test_payout_currency_converts_with_a_recorded_quote(self, market: Marketplace) -> None:
        """EUR balances pay out in USD at the quoted rate, half-even (R-PAY-4)."""
        market.shop("fx", rule="in-usd")
        market.order("fx", "10.05", "EUR")
        market.order("fx", "1.00", "USD")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        payout = market.app.get_payout(TENANT, payout_id)
        assert payout.amount == money("12.06", "USD")  # 10.05 * 1.10 = 11.055 -> 11.06
        eur = next(s for s in payout.sources if s.currency == "EUR")
        assert eur.fx is not None and eur.fx.rate == Decimal("1.10")
        assert_invariants(market)

    def test_zero_and_three_decimal_currencies_pay_exactly(self, market: Marketplace) -> None:
        """JPY has no minor unit, KWD three; both pay to the last unit."""
        market.shop("s1")
        market.order("s1", "1500", "JPY")
        market.order("s1", "1.234", "KWD")
        market.order("s1", "-0.001", "KWD", kind=ItemKind.REFUND)
        market.advance(days=1)
        _, created = market.run_jobs()
        amounts = {market.app.get_payout(TENANT, p).amount for p in created}
        assert amounts == {money("1500", "JPY"), money("1.233", "KWD")}
        assert_invariants(market)

    def test_zero_decimal_currency_converts_with_named_rounding(self, market: Marketplace) -> None:
        """1234 JPY at 0.0067 is 8.2678 USD, paid as 8.27."""
        market.shop("fx", rule="in-usd")
        market.order("fx", "1234", "JPY")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == money("8.27", "USD")

    def test_debt_carries_forward_and_nets_later(self, market: Marketplace) -> None:
        """Refunds above sales leave a debt that the next cycle pays off first (R-PAY-5)."""
        market.shop("s1")
        market.order("s1", "10.00")
        market.advance(days=1)
        market.run_jobs()
        market.order("s1", "-25.00", kind=ItemKind.REFUND)
        market.advance(days=1)
        assert market.run_jobs() == (1, ())
        market.order("s1", "40.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == money("15.00", "USD")
        assert_invariants(market)

    def test_negative_balance_limit_refuses_deeper_debt(self, market: Marketplace) -> None:
        """With a limit, a refund that would owe more than it is refused, nothing stored."""
        account_id = market.shop("s1", rule="debt-limit")
        market.order("s1", "5.00")
        market.order("s1", "-25.00", kind=ItemKind.REFUND)
        with pytest.raises(NegativeBalanceLimitExceeded):
            market.order("s1", "-0.01", kind=ItemKind.REFUND)
        assert market.app.balance(TENANT, account_id).pending["USD"] == money("-20.00", "USD")

    def test_paid_payout_marks_items_paid(self, market: Marketplace) -> None:
        """A payout through submit and paid leaves the ledger balanced and items paid."""
        market.shop("s1")
        receipt = market.order("s1", "10.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        market.app.mark_payout_submitted(TENANT, payout_id)
        market.app.record_payout_paid(TENANT, payout_id)
        again = market.app.record_payout_paid(TENANT, payout_id)
        assert again.status is PayoutStatus.PAID
        [item] = market.app.get_items(TENANT, [receipt.item_id])
        assert item.status is BillingItemStatus.PAID
        assert_invariants(market)

    def test_final_failure_returns_money_exactly_once(self, market: Marketplace) -> None:
        """Retryable failures keep money in flight; a final one returns it once (R-PAY-7)."""
        account_id = market.shop("s1")
        market.order("s1", "10.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        market.app.mark_payout_submitted(TENANT, payout_id)
        market.app.record_payout_failed(TENANT, payout_id, retryable=True)
        assert market.app.balance(TENANT, account_id).available == {}
        market.app.mark_payout_submitted(TENANT, payout_id)
        market.app.record_payout_failed(TENANT, payout_id, retryable=False)
        market.app.record_payout_failed(TENANT, payout_id, retryable=False)
        payout = market.app.get_payout(TENANT, payout_id)
        assert payout.status is PayoutStatus.FAILED_NO_RETRY and payout.attempts == 2
        assert market.app.balance(TENANT, account_id).available == {"USD": money("10.00", "USD")}
        assert_invariants(market)

    def test_create_payouts_is_idempotent(self, market: Marketplace) -> None:
        """Running the payout job twice creates no second payout."""
        market.shop("s1")
        market.order("s1", "10.00")
        market.advance(days=1)
        market.run_jobs()
        assert market.app.create_payouts(market.clock.now()).created == ()


class QueryContract(_Suite):
    """Lookups and filtered, paginated queries (R-QRY-1, R-SEC-2)."""

    def test_items_page_through_in_id_order(self, market: Marketplace) -> None:
        """Pages never repeat or skip an item."""
        market.shop("s1")
        ids = {market.order("s1", "1.00").item_id for _ in range(7)}
        seen: list[str] = []
        cursor = None
        while True:
            page = market.app.query_items(ItemFilter(tenant_id=TENANT), cursor, limit=3)
            seen.extend(i.id for i in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(ids)

    def test_filters_narrow_by_order_amount_and_status(self, market: Marketplace) -> None:
        """Filters combine; another tenant's filter sees nothing."""
        market.shop("s1")
        market.order("s1", "1.00", order_id="o1")
        market.order("s1", "50.00", order_id="o2")
        big = market.app.query_items(ItemFilter(tenant_id=TENANT, amount_min_minor=1000))
        assert [i.order_id for i in big.items] == ["o2"]
        by_order = market.app.query_items(ItemFilter(tenant_id=TENANT, order_id="o1"))
        assert [i.amount_minor for i in by_order.items] == [100]
        pending = ItemFilter(tenant_id=TENANT, status=BillingItemStatus.PENDING)
        assert len(market.app.query_items(pending).items) == 2
        assert market.app.query_items(ItemFilter(tenant_id="tenant-b")).items == []

    def test_status_filter_follows_the_cycle(self, market: Marketplace) -> None:
        """Items of a closed statement filter as statemented, then as paid; open ones as pending."""
        market.shop("s1")
        first = market.order("s1", "10.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        second = market.order("s1", "2.00")

        def ids(status: BillingItemStatus, statement_id: str | None = None) -> list[str]:
            where = ItemFilter(tenant_id=TENANT, status=status, statement_id=statement_id)
            return [i.id for i in market.app.query_items(where).items]

        assert ids(BillingItemStatus.PENDING) == [second.item_id]
        assert ids(BillingItemStatus.STATEMENTED) == [first.item_id]
        assert ids(BillingItemStatus.STATEMENTED, statement_id=second.statement_id) == []
        market.app.mark_payout_submitted(TENANT, payout_id)
        market.app.record_payout_paid(TENANT, payout_id)
        assert ids(BillingItemStatus.STATEMENTED) == []
        assert ids(BillingItemStatus.PAID) == [first.item_id]
        assert ids(BillingItemStatus.PENDING) == [second.item_id]
        [item] = market.app.get_items(TENANT, [second.item_id])
        assert item.status is BillingItemStatus.PENDING

    def test_items_by_time_ranges(self, market: Marketplace) -> None:
        """Occurred and recorded ranges are inclusive and combine with the tenant."""
        market.shop("s1")
        early = market.clock.now()
        market.order("s1", "1.00", order_id="o1")
        market.advance(hours=2)
        market.order("s1", "2.00", order_id="o2", at=early + timedelta(hours=1))
        window = ItemFilter(
            tenant_id=TENANT,
            occurred_from=early + timedelta(minutes=30),
            occurred_to=market.clock.now(),
        )
        assert [i.order_id for i in market.app.query_items(window).items] == ["o2"]
        recorded = ItemFilter(tenant_id=TENANT, recorded_to=early)
        assert [i.order_id for i in market.app.query_items(recorded).items] == ["o1"]

    def test_statements_and_payouts_by_filter(self, market: Marketplace) -> None:
        """Statement and payout filters find what the jobs produced."""
        account_id = market.shop("s1")
        market.order("s1", "3.00")
        market.advance(days=1)
        market.run_jobs()
        paid = StatementFilter(tenant_id=TENANT, status=StatementStatus.PAID_OUT)
        assert len(market.app.query_statements(paid).items) == 1
        mine = PayoutFilter(tenant_id=TENANT, account_id=account_id)
        assert [p.amount_minor for p in market.app.query_payouts(mine).items] == [300]
        assert market.app.query_payouts(PayoutFilter(tenant_id="tenant-b")).items == []


class OutboxContract(_Suite):
    """Domain events reach the publisher at least once (R-MON-1)."""

    def test_every_state_change_is_published(self, market: Marketplace) -> None:
        """Item, statement and payout changes all produce events, delivered in order."""
        market.shop("s1")
        market.order("s1", "3.00")
        market.advance(days=1)
        market.run_jobs()
        publisher = RecordingPublisher()
        sent = market.app.publish_pending(publisher)
        names = [m.name for m in publisher.messages]
        assert sent == len(names)
        for expected in (
            "AccountOpened",
            "BillingItemRecorded",
            "StatementOpened",
            "BillingItemsMoved",
            "PayoutCreated",
            "StatusChanged",
        ):
            assert expected in names
        assert market.app.publish_pending(publisher) == 0

    def test_failed_publication_is_retried(self, market: Marketplace) -> None:
        """A publisher that fails leaves messages pending for the next call."""
        market.shop("s1")
        publisher = RecordingPublisher()
        publisher.fail_next = True
        with pytest.raises(ConnectionError):
            market.app.publish_pending(publisher)
        assert market.app.publish_pending(publisher) == 1


def _account(account_id: str, shop_id: str) -> Account:
    return Account(
        id=account_id,
        tenant_id=TENANT,
        shop_id=shop_id,
        time_zone="UTC",
        rule_id="daily",
        created_at=START,
    )


class UnitOfWorkContract(_Suite):
    """Transactions: rollback by default, optimistic versions, unique keys."""

    @pytest.fixture
    def uow_factory(self, market: Marketplace) -> UowFactory:
        """Units of work on the adapter's fresh store."""
        return market.app.context.uow

    @pytest.fixture
    def interleaved(self, uow_factory: UowFactory) -> None:
        """Skip where two write transactions cannot be open at once in one thread.

        A single-writer store (SQLite) queues the second writer until the first
        ends, so interleaving both in one thread would wait on itself; the
        queueing is tested by the adapter's own concurrency tests instead.
        """
        if getattr(uow_factory(), "single_writer", False):
            pytest.skip("single-writer store: writers queue instead of interleaving")

    def test_uncommitted_work_is_rolled_back(self, uow_factory: UowFactory) -> None:
        """Leaving the block without commit stores nothing."""
        with uow_factory() as uow:
            uow.accounts.add(_account("a1", "s1"))
        with uow_factory() as uow:
            assert uow.accounts.find_by_shop(TENANT, "s1") is None

    def test_failed_command_leaves_no_trace(self, uow_factory: UowFactory) -> None:
        """An exception inside the block discards everything staged, ledger included."""

        def crash() -> None:
            with uow_factory() as uow:
                uow.accounts.add(_account("a1", "s1"))
                uow.ledger.post(postings.item_booked("t1", TENANT, "a1", "i1", "USD", 100, START))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            crash()
        with uow_factory() as uow:
            assert uow.ledger.balance("party:a1:pending", "USD") == 0
            assert uow.ledger.find("item.booked", "i1") is None
            assert uow.outbox.pending(10) == []

    def test_committed_work_is_visible_with_its_events(self, uow_factory: UowFactory) -> None:
        """A commit stores the aggregate and writes its events to the outbox."""
        with uow_factory() as uow:
            account = _account("a1", "s1")
            account.hold(START)
            uow.accounts.add(account)
            uow.commit()
        with uow_factory() as uow:
            assert uow.accounts.get(TENANT, "a1").is_held
            assert [m.name for m in uow.outbox.pending(10)] == ["StatusChanged"]

    @pytest.mark.usefixtures("interleaved")
    def test_stale_write_is_a_concurrency_conflict(self, uow_factory: UowFactory) -> None:
        """Two units change one aggregate: the second commit fails."""
        with uow_factory() as uow:
            uow.accounts.add(_account("a1", "s1"))
            uow.commit()
        with uow_factory() as first, uow_factory() as second:
            first.accounts.get(TENANT, "a1").hold(START)
            second.accounts.get(TENANT, "a1").hold(START)
            first.commit()
            with pytest.raises(ConcurrencyConflict):
                second.commit()

    @pytest.mark.usefixtures("interleaved")
    def test_readers_do_not_conflict_with_writers(self, uow_factory: UowFactory) -> None:
        """An aggregate only read is not written back."""
        with uow_factory() as uow:
            uow.accounts.add(_account("a1", "s1"))
            uow.accounts.add(_account("a2", "s2"))
            uow.commit()
        with uow_factory() as first, uow_factory() as second:
            first.accounts.get(TENANT, "a1").hold(START)
            second.accounts.get(TENANT, "a1")
            second.accounts.get(TENANT, "a2").hold(START)
            first.commit()
            second.commit()

    @pytest.mark.usefixtures("interleaved")
    def test_unique_shop_id_resolves_concurrent_creators(self, uow_factory: UowFactory) -> None:
        """Two accounts for one shop id: the second insert is refused."""
        with uow_factory() as first, uow_factory() as second:
            first.accounts.add(_account("a1", "s1"))
            second.accounts.add(_account("a2", "s1"))
            first.commit()
            with pytest.raises(ConcurrencyConflict):
                second.commit()

    def test_a_posting_is_unique_by_kind_and_reference(self, uow_factory: UowFactory) -> None:
        """The same business event cannot be posted twice to the journal."""

        def post(transaction_id: str) -> None:
            with uow_factory() as uow:
                uow.ledger.post(
                    postings.item_booked(transaction_id, TENANT, "a1", "i1", "USD", 100, START)
                )
                uow.commit()

        post("t1")
        with pytest.raises(ConcurrencyConflict):
            post("t2")

    def test_balances_of_many_accounts_add_stored_and_staged(self, uow_factory: UowFactory) -> None:
        """balances_of answers what balances() answers for each account, staged postings too."""
        with uow_factory() as uow:
            uow.ledger.post(postings.item_booked("t1", TENANT, "a1", "i1", "USD", 100, START))
            uow.ledger.post(postings.item_booked("t2", TENANT, "a1", "i2", "EUR", 7, START))
            uow.ledger.post(postings.item_booked("t3", TENANT, "a2", "i3", "USD", 50, START))
            uow.commit()
        with uow_factory() as uow:
            uow.ledger.post(postings.item_booked("t4", TENANT, "a1", "i4", "USD", -100, START))
            uow.ledger.post(postings.item_booked("t5", TENANT, "a2", "i5", "JPY", 3, START))
            wanted = ["party:a1:pending", "party:a2:pending", "party:a3:pending"]
            found = uow.ledger.balances_of(wanted)
            assert found == {
                "party:a1:pending": {"EUR": 7},
                "party:a2:pending": {"USD": 50, "JPY": 3},
                "party:a3:pending": {},
            }
            assert found == {account: uow.ledger.balances(account) for account in wanted}


class FreezeContract(_Suite):
    """Freeze / confirm / cancel of an available balance (R-LED-2)."""

    def _carried(self, market: Marketplace) -> str:
        account = market.shop("s1", rule="threshold")
        market.order("s1", "30.00")
        market.advance(days=1)
        market.run_jobs()  # below the threshold: 30.00 stays available
        return account

    def test_a_freeze_holds_money_until_confirmed(self, market: Marketplace) -> None:
        """Held money leaves the available balance at once; confirming spends it once."""
        account = self._carried(market)
        held = market.app.freeze(TENANT, account, money("20.00", "USD"), "order-9:deposit")
        balance = market.app.balance(TENANT, account)
        assert balance.available == {"USD": money("10.00", "USD")}
        assert balance.frozen == {"USD": money("20.00", "USD")}
        again = market.app.freeze(TENANT, account, money("20.00", "USD"), "order-9:deposit")
        assert again.id == held.id
        with pytest.raises(IdempotencyConflict):
            market.app.freeze(TENANT, account, money("21.00", "USD"), "order-9:deposit")
        done = market.app.confirm_freeze(TENANT, "order-9:deposit")
        assert done.status is FreezeStatus.CONFIRMED
        assert market.app.confirm_freeze(TENANT, "order-9:deposit").version == done.version
        assert market.app.balance(TENANT, account).frozen == {}
        with pytest.raises(InvalidTransition):
            market.app.cancel_freeze(TENANT, "order-9:deposit")
        assert_invariants(market)

    def test_a_cancelled_freeze_gives_the_money_back_once(self, market: Marketplace) -> None:
        """Cancel twice: the money is back once; a confirm after is refused."""
        account = self._carried(market)
        market.app.freeze(TENANT, account, money("30.00", "USD"), "r1")
        market.app.cancel_freeze(TENANT, "r1")
        market.app.cancel_freeze(TENANT, "r1")
        assert market.app.balance(TENANT, account).available == {"USD": money("30.00", "USD")}
        with pytest.raises(InvalidTransition):
            market.app.confirm_freeze(TENANT, "r1")
        with pytest.raises(NotFound):
            market.app.confirm_freeze(TENANT, "never-made")
        assert_invariants(market)

    def test_no_freeze_beyond_the_available_balance(self, market: Marketplace) -> None:
        """Freezes together never exceed what is available; a refused one stores nothing."""
        account = self._carried(market)
        market.app.freeze(TENANT, account, money("25.00", "USD"), "a")
        with pytest.raises(InsufficientBalance):
            market.app.freeze(TENANT, account, money("5.01", "USD"), "b")
        with pytest.raises(NotFound):
            market.app.cancel_freeze(TENANT, "b")
        assert market.app.balance(TENANT, account).available == {"USD": money("5.00", "USD")}

    def test_forgotten_freezes_expire(self, market: Marketplace) -> None:
        """A freeze past its expiry is given back by the job; confirming it then is refused."""
        account = self._carried(market)
        later = market.clock.now() + timedelta(hours=1)
        market.app.freeze(TENANT, account, money("12.00", "USD"), "x", expires_at=later)
        assert market.app.expire_freezes(market.clock.now()) == 0
        market.advance(hours=2)
        assert market.app.expire_freezes(market.clock.now()) == 1
        assert market.app.expire_freezes(market.clock.now()) == 0
        assert market.app.balance(TENANT, account).available == {"USD": money("30.00", "USD")}
        with pytest.raises(InvalidTransition):
            market.app.confirm_freeze(TENANT, "x")
        assert market.app.cancel_freeze(TENANT, "x").status is FreezeStatus.EXPIRED
        assert_invariants(market)

    def test_payouts_never_pay_frozen_money(self, market: Marketplace) -> None:
        """The next payout takes what is available, not what is frozen."""
        account = self._carried(market)
        market.app.freeze(TENANT, account, money("20.00", "USD"), "hold")
        market.order("s1", "45.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == money("55.00", "USD")
        assert market.app.balance(TENANT, account).frozen == {"USD": money("20.00", "USD")}
        assert_invariants(market)


class ChargeContract(_Suite):
    """Non-order charges with an approval step (R-FEE-5)."""

    def _propose(self, market: Marketplace, amount: str, reference: str = "pen-1") -> Any:
        account = market.shop("s1")
        return market.app.propose_charge(
            ProposeCharge(
                tenant_id=TENANT,
                account_id=account,
                kind="penalty",
                amount=money(amount, "USD"),
                reference=reference,
                reason="late shipment",
                proposed_by="alice",
            )
        )

    def test_an_approved_charge_nets_in_the_next_payout(self, market: Marketplace) -> None:
        """Nothing is booked until a second person approves; then the payout is net of it."""
        market.shop("s1")
        market.order("s1", "30.00")
        charge = self._propose(market, "-5.00")
        assert market.app.balance(TENANT, charge.account_id).pending == {
            "USD": money("30.00", "USD")
        }
        with pytest.raises(ValidationError):
            market.app.approve_charge(TENANT, charge.id, "alice")  # its own proposer
        done = market.app.approve_charge(TENANT, charge.id, "bob")
        assert done.status is ChargeStatus.APPROVED and done.item_id is not None
        again = market.app.approve_charge(TENANT, charge.id, "bob")
        assert again.item_id == done.item_id
        [item] = market.app.get_items(TENANT, [done.item_id])
        assert (item.kind, item.amount) == (ItemKind.FEE, money("-5.00", "USD"))
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == money("25.00", "USD")
        assert_invariants(market)

    def test_a_rejected_charge_books_nothing(self, market: Marketplace) -> None:
        """Rejected (by someone else) it books nothing; approving it after is refused."""
        charge = self._propose(market, "-5.00")
        market.app.reject_charge(TENANT, charge.id, "bob")
        assert market.app.reject_charge(TENANT, charge.id, "bob").status is ChargeStatus.REJECTED
        with pytest.raises(InvalidTransition):
            market.app.approve_charge(TENANT, charge.id, "carol")
        assert market.app.balance(TENANT, charge.account_id).pending == {}

    def test_proposals_are_idempotent_and_validated(self, market: Marketplace) -> None:
        """The same proposal returns the first; other content under its reference is refused."""
        first = self._propose(market, "-5.00")
        assert self._propose(market, "-5.00").id == first.id
        with pytest.raises(IdempotencyConflict):
            self._propose(market, "-6.00")
        with pytest.raises(InvalidAmount):
            self._propose(market, "0.00", reference="zero")
        with pytest.raises(ValidationError):
            market.app.propose_charge(
                ProposeCharge(
                    tenant_id=TENANT,
                    account_id=first.account_id,
                    kind="bribe",
                    amount=money("-1.00", "USD"),
                    reference="odd",
                    reason="?",
                    proposed_by="alice",
                )
            )
        credit = self._propose(market, "2.50", reference="goodwill")
        done = market.app.approve_charge(TENANT, credit.id, "bob")
        [item] = market.app.get_items(TENANT, [done.item_id or ""])
        assert item.kind is ItemKind.ADJUSTMENT
