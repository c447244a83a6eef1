"""Contract suite: receivables and payables per party, netted or settled gross (R-FEE-4).

Use as the other suites: subclass `SettlementModeContract` in a test module that
provides the `settlement_build` fixture.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from settlement_core.errors import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from settlement_core.fees import (
    Fee,
    FeeEngine,
    FeeSchedule,
    Order,
    Route,
    RoutingTable,
    ScheduleMatcher,
    ScheduleRule,
)
from settlement_core.lifecycle import CollectionStatus, StatementStatus
from settlement_core.model import Collection, ItemKind, OpenAccount, ProposeCharge, SettlementMode
from settlement_core.money import Money, Rounding, money
from settlement_core.ports import StatementFilter
from settlement_core.testing.contracts import _Suite
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, Marketplace


def _usd(amount: str) -> Money:
    return money(amount, "USD")


# A 10% commission the platform earns and the seller is charged, as its own line.
COMMISSION = FeeEngine(
    ScheduleMatcher(
        [
            ScheduleRule(
                rule_id="marketplace",
                schedule=FeeSchedule(
                    name="marketplace",
                    factors=("paid",),
                    fees=(Fee("commission", "paid * 0.10", Rounding.HALF_UP),),
                ),
            )
        ]
    ),
    RoutingTable([Route("*", "*", "commission", "platform", payer="@seller")]),
)


class SettlementModeContract(_Suite):
    """Netting deducts a party's fees from its payouts; gross pays in full and bills them."""

    def _day(self, market: Marketplace, shop: str, *lines: tuple[str, ItemKind]) -> None:
        for amount, kind in lines:
            market.order(shop, amount, kind=kind)

    def _clean(self, market: Marketplace) -> None:
        assert_invariants(market)
        report = market.app.reconcile(TENANT, market.clock.now(), dry_run=True)
        assert report.clean, report.findings

    def _billed(self, market: Marketplace, account: str) -> list[Collection]:
        return list(market.app.query_collections(TENANT, account_id=account).items)

    def test_a_netting_party_has_its_fees_deducted(self, market: Marketplace) -> None:
        """The default: sales less fees in one payout, nothing billed apart."""
        account = market.shop("s1")
        self._day(market, "s1", ("100.00", ItemKind.SALE), ("-10.00", ItemKind.FEE))
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == _usd("90.00")
        assert self._billed(market, account) == []
        assert market.app.balance(TENANT, account).receivable == {}
        self._clean(market)

    def test_a_gross_party_is_paid_in_full_and_billed_its_fees(self, market: Marketplace) -> None:
        """Gross: the payout carries every sale; one collection bills the fees of the run."""
        account = market.shop("s1", mode="gross")
        self._day(
            market,
            "s1",
            ("100.00", ItemKind.SALE),
            ("-10.00", ItemKind.FEE),
            ("50.00", ItemKind.SALE),
            ("-2.50", ItemKind.FEE),
            ("-20.00", ItemKind.REFUND),
        )
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        payout = market.app.get_payout(TENANT, payout_id)
        assert payout.amount == _usd("130.00")
        [collection] = self._billed(market, account)
        assert collection.amount == _usd("12.50")
        assert collection.status is CollectionStatus.OPEN
        assert collection.statement_ids == payout.statement_ids
        balance = market.app.balance(TENANT, account)
        assert balance.receivable == {"USD": _usd("-12.50")}
        assert balance.available == {}
        # A second run finds nothing new to pay or bill.
        assert market.run_jobs() == (0, ())
        assert len(self._billed(market, account)) == 1
        self._clean(market)

    def test_collections_are_paid_in_parts_once_per_reference(self, market: Marketplace) -> None:
        """Parts under bank references; a replay is a no-op; more than is owed is refused."""
        account = market.shop("s1", mode="gross")
        self._day(market, "s1", ("80.00", ItemKind.SALE), ("-10.00", ItemKind.FEE))
        market.advance(days=1)
        market.run_jobs()
        [billed] = self._billed(market, account)
        part = market.app.record_collection(TENANT, billed.id, _usd("4.00"), "bank-1")
        assert part.status is CollectionStatus.PARTIALLY_COLLECTED
        assert part.outstanding == _usd("6.00")
        again = market.app.record_collection(TENANT, billed.id, _usd("4.00"), "bank-1")
        assert (again.collected_minor, again.version) == (part.collected_minor, part.version)
        with pytest.raises(IdempotencyConflict):
            market.app.record_collection(TENANT, billed.id, _usd("5.00"), "bank-1")
        with pytest.raises(InvalidAmount):
            market.app.record_collection(TENANT, billed.id, _usd("6.01"), "bank-2")
        with pytest.raises(InvalidAmount):
            market.app.record_collection(TENANT, billed.id, money("6", "JPY"), "bank-2")
        with pytest.raises(InvalidAmount):
            market.app.record_collection(TENANT, billed.id, _usd("0.00"), "bank-2")
        done = market.app.record_collection(TENANT, billed.id, _usd("6.00"), "bank-2")
        assert done.status is CollectionStatus.COLLECTED and done.closed_at is not None
        assert market.app.balance(TENANT, account).receivable == {}
        with pytest.raises(InvalidTransition):
            market.app.record_collection(TENANT, billed.id, _usd("1.00"), "bank-3")
        with pytest.raises(InvalidTransition):
            market.app.offset_collection(TENANT, billed.id, "ops", "too late")
        self._clean(market)

    def test_an_offset_collection_nets_in_the_next_payout(self, market: Marketplace) -> None:
        """Given up collecting apart, what is still owed comes off the next payout, once."""
        account = market.shop("s1", mode="gross")
        self._day(market, "s1", ("100.00", ItemKind.SALE), ("-10.00", ItemKind.FEE))
        market.advance(days=1)
        _, [first] = market.run_jobs()
        assert market.app.get_payout(TENANT, first).amount == _usd("100.00")
        [billed] = self._billed(market, account)
        market.app.record_collection(TENANT, billed.id, _usd("3.00"), "bank-1")
        with pytest.raises(ValidationError):
            market.app.offset_collection(TENANT, billed.id, "ops", " ")
        offset = market.app.offset_collection(TENANT, billed.id, "ops", "unpaid after 30 days")
        assert offset.status is CollectionStatus.OFFSET
        assert (offset.offset_minor, offset.outstanding_minor) == (700, 0)
        assert market.app.offset_collection(TENANT, billed.id, "ops", "again").version == (
            offset.version
        )
        self._day(market, "s1", ("30.00", ItemKind.SALE))
        market.advance(days=1)
        _, [second] = market.run_jobs()
        assert market.app.get_payout(TENANT, second).amount == _usd("23.00")
        self._clean(market)

    def test_a_gross_party_with_only_fees_is_billed_not_paid(self, market: Marketplace) -> None:
        """An approved penalty on a gross party becomes a collection, not a debt on payouts."""
        account = market.shop("s1", mode="gross")
        charge = market.app.propose_charge(
            ProposeCharge(
                tenant_id=TENANT,
                account_id=account,
                kind="penalty",
                amount=_usd("-15.00"),
                reference="pen-1",
                reason="late shipment",
                proposed_by="alice",
            )
        )
        market.app.approve_charge(TENANT, charge.id, "bob")
        market.advance(days=1)
        _, created = market.run_jobs()
        assert created == ()
        [billed] = self._billed(market, account)
        assert billed.amount == _usd("15.00")
        statements = market.app.query_statements(StatementFilter(tenant_id=TENANT)).items
        assert [s.status for s in statements] == [StatementStatus.CARRIED_FORWARD]
        assert market.app.balance(TENANT, account).available == {}
        self._clean(market)

    def test_fees_given_back_reduce_what_is_billed_or_are_paid(self, market: Marketplace) -> None:
        """Fee refunds net against the run's fees; beyond them they are simply payable."""
        account = market.shop("s1", mode="gross")
        self._day(
            market,
            "s1",
            ("100.00", ItemKind.SALE),
            ("-10.00", ItemKind.FEE),
            ("4.00", ItemKind.FEE_REFUND),
        )
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        assert market.app.get_payout(TENANT, payout_id).amount == _usd("100.00")
        [billed] = self._billed(market, account)
        assert billed.amount == _usd("6.00")
        self._day(market, "s1", ("20.00", ItemKind.SALE), ("3.00", ItemKind.FEE_REFUND))
        market.advance(days=1)
        _, [second] = market.run_jobs()
        assert market.app.get_payout(TENANT, second).amount == _usd("23.00")
        assert len(self._billed(market, account)) == 1
        with pytest.raises(InvalidAmount):
            market.order("s1", "-1.00", kind=ItemKind.FEE_REFUND)
        self._clean(market)

    def test_a_held_gross_party_is_still_billed(self, market: Marketplace) -> None:
        """Holding the payout does not hold the bill: the fees are collected apart."""
        account = market.shop("s1", rule="hold", mode="gross")
        self._day(market, "s1", ("100.00", ItemKind.SALE), ("-10.00", ItemKind.FEE))
        market.advance(days=1)
        assert market.run_jobs()[1] == ()
        [billed] = self._billed(market, account)
        assert billed.amount == _usd("10.00")
        assert market.app.balance(TENANT, account).available == {"USD": _usd("100.00")}
        self._clean(market)

    def test_switching_mode_applies_from_the_next_run(self, market: Marketplace) -> None:
        """A switch is idempotent, evented, validated, and changes only later payout runs."""
        account = market.shop("s1")
        self._day(market, "s1", ("50.00", ItemKind.SALE), ("-5.00", ItemKind.FEE))
        market.advance(days=1)
        _, [netted] = market.run_jobs()
        assert market.app.get_payout(TENANT, netted).amount == _usd("45.00")
        switched = market.app.set_settlement_mode(TENANT, account, "gross")
        assert switched.settlement_mode is SettlementMode.GROSS
        same = market.app.set_settlement_mode(TENANT, account, "gross")
        assert same.version == switched.version
        with pytest.raises(ValidationError):
            market.app.set_settlement_mode(TENANT, account, "sometimes")
        self._day(market, "s1", ("50.00", ItemKind.SALE), ("-5.00", ItemKind.FEE))
        market.advance(days=1)
        _, [gross] = market.run_jobs()
        assert market.app.get_payout(TENANT, gross).amount == _usd("50.00")
        assert [c.amount for c in self._billed(market, account)] == [_usd("5.00")]
        self._clean(market)

    def test_bad_modes_and_other_tenants_are_refused(self, market: Marketplace) -> None:
        """An unknown mode stores no account; another tenant cannot see a collection."""
        with pytest.raises(ValidationError):
            market.app.get_or_create_account(
                OpenAccount(tenant_id=TENANT, shop_id="odd", settlement_mode="both")
            )
        account = market.shop("s1", mode="gross")
        self._day(market, "s1", ("10.00", ItemKind.SALE), ("-1.00", ItemKind.FEE))
        market.advance(days=1)
        market.run_jobs()
        [billed] = self._billed(market, account)
        with pytest.raises(NotFound):
            market.app.get_collection("tenant-b", billed.id)
        with pytest.raises(NotFound):
            market.app.record_collection("tenant-b", billed.id, _usd("1.00"), "bank-1")
        assert market.app.query_collections("tenant-b").items == []
        assert market.app.get_collection(TENANT, billed.id).outstanding == _usd("1.00")
        opened = market.app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id="odd"))
        assert opened.created and opened.account.settlement_mode is SettlementMode.NET

    def test_fee_engine_charges_bill_a_gross_seller(self, market: Marketplace) -> None:
        """Priced by the engine, a gross seller is paid the goods and billed the commission."""
        seller = market.shop("s1", mode="gross")
        platform = market.shop("platform")
        order = Order(
            order_id="o-1",
            tenant_id=TENANT,
            business="retail",
            amount=_usd("80.00"),
            at=market.clock.now(),
            parties={"seller": "s1"},
            factors={"paid": Decimal("80.00")},
        )
        commands = COMMISSION.settle(order).commands(sequence=0)
        market.app.record_billing_items(commands)
        assert all(r.replayed for r in market.app.record_billing_items(commands))
        market.advance(days=1)
        _, created = market.run_jobs()
        paid = {market.app.get_payout(TENANT, p).account_id: p for p in created}
        assert market.app.get_payout(TENANT, paid[seller]).amount == _usd("80.00")
        assert market.app.get_payout(TENANT, paid[platform]).amount == _usd("8.00")
        [billed] = self._billed(market, seller)
        assert billed.amount == _usd("8.00")
        market.app.record_collection(TENANT, billed.id, _usd("8.00"), "bank-1")
        self._clean(market)
