"""The seeds' settlement shapes priced end to end by the fee engine, numbers worked by hand.

Seed 004 (joint-operation settlement): distributor and supplier, concession
stores, shopping-guide commissions; seed 001 (rebates): per-order calculation
that can be replayed. Every expected figure is derived in the comments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from settlement_core.errors import InvalidRule
from settlement_core.fees import (
    Fee,
    FeeEngine,
    FeeSchedule,
    MissingParty,
    NoMatchingSchedule,
    NoRoute,
    Order,
    Route,
    RoutingTable,
    ScheduleMatcher,
    ScheduleRule,
    SplitLine,
)
from settlement_core.model import ItemKind
from settlement_core.money import Money, Rounding, money

D = Decimal
HALF_UP = Rounding.HALF_UP
AT = datetime(2024, 6, 18, 8, 42, tzinfo=UTC)
PLATFORM = "1000"  # the seed's paying merchant: the platform's settlement entity

DISTRIBUTION = FeeSchedule(
    name="distribution",
    factors=("price", "coupon", "commission_rate", "supply_unit_price", "quantity"),
    fees=(
        # Seed 004: goods payment = goods price - coupon; a subtotal nobody is paid.
        Fee("goods", "price - coupon", HALF_UP, booked=False),
        Fee("commission", "goods * commission_rate", HALF_UP),
        Fee("supply_payment", "supply_unit_price * quantity", HALF_UP),
    ),
)

CONCESSION = FeeSchedule(
    name="concession",
    factors=("paid", "concession_rate"),
    fees=(
        # The store's cut of a concession seller's sales.
        Fee("concession_fee", "paid * concession_rate", HALF_UP),
        # Payment processing, rounded by the formula itself (half-even to cents).
        Fee("payment_fee", "round_half_even(paid * 0.006, 2)", None),
    ),
)

CONCESSION_WITH_GUIDE = FeeSchedule(
    name="concession-guide",
    factors=("paid", "concession_rate", "guide_rate", "guide_cap"),
    fees=(
        Fee("concession_fee", "paid * concession_rate", HALF_UP),
        # The guide's commission, capped, always rounded down in the platform's favour;
        # the sign of `paid` is kept so a refund claws back exactly what was paid.
        Fee(
            "guide_commission",
            "round_down(max(min(paid * guide_rate, guide_cap), -guide_cap), 2)",
            None,
        ),
    ),
)

ENGINE = FeeEngine(
    ScheduleMatcher(
        [
            ScheduleRule(
                rule_id="distribution", schedule=DISTRIBUTION, match={"business": "distribution"}
            ),
            ScheduleRule(
                rule_id="concession", schedule=CONCESSION, match={"business": "concession"}
            ),
            ScheduleRule(
                rule_id="concession-guide",
                schedule=CONCESSION_WITH_GUIDE,
                match={"business": "concession", "sale_channel": "guide"},
            ),
        ]
    ),
    RoutingTable(
        [
            Route("*", "*", "commission", PLATFORM),
            Route("*", "*", "payment_fee", PLATFORM),
            Route("*", "distribution", "supply_payment", "@supplier"),
            Route("*", "concession", "concession_fee", "@store"),
            Route("*", "*", "guide_commission", "@guide"),
        ]
    ),
)


def usd(amount: str) -> Money:
    """Money in USD."""
    return money(amount, "USD")


def lines(split_lines: Sequence[SplitLine]) -> list[tuple[str, str, str]]:
    """(party, line, amount) triples, for readable assertions."""
    return [(line.party, line.line, str(line.amount.amount)) for line in split_lines]


class PolicyService:
    """Stands in for the policy system behind a FactorProvider adapter (seed 004, 103-04)."""

    def __init__(self, values: Mapping[str, Decimal]) -> None:
        self.values = values

    def factors(self, names: Sequence[str], order: Order) -> Mapping[str, Decimal]:
        """The policy values among `names`."""
        return {name: self.values[name] for name in names if name in self.values}


class TestDistributorAndSupplier:
    """Seed 004 supply-distribution: order 9000001 sold by distributor 1001 for supplier 2001."""

    ORDER = Order(
        order_id="9000001",
        tenant_id="1",
        business="distribution",
        amount=usd("1599.99"),
        at=AT,
        parties={"seller": "1001", "supplier": "2001"},
        factors={
            "price": D("1649.99"),
            "coupon": D("50.00"),
            "commission_rate": D("0.035"),
            "supply_unit_price": D("400.00"),
            "quantity": D(3),
        },
    )

    def test_split(self) -> None:
        """Platform commission, supplier payment, and the distributor keeps the rest."""
        # goods 1649.99 - 50.00 = 1599.99 (the order amount)
        # commission 1599.99 x 0.035 = 55.99965 -> 56.00 half-up
        # supplier 400.00 x 3 = 1200.00
        # distributor 1599.99 - 56.00 - 1200.00 = 343.99
        settled = ENGINE.settle(self.ORDER)
        assert settled.rule_id == "distribution"
        assert settled.fees.amounts["goods"] == usd("1599.99")
        assert lines(settled.split.lines) == [
            (PLATFORM, "commission", "56.00"),
            ("2001", "supply_payment", "1200.00"),
            ("1001", "remainder", "343.99"),
        ]
        assert dict(settled.split.by_party()) == {
            PLATFORM: usd("56.00"),
            "2001": usd("1200.00"),
            "1001": usd("343.99"),
        }

    def test_billing_items(self) -> None:
        """Three sales, one per party, keyed by order, party, line and sequence."""
        items = ENGINE.settle(self.ORDER).commands(sequence=0)
        assert [(i.shop_id, i.kind, i.amount) for i in items] == [
            (PLATFORM, ItemKind.SALE, usd("56.00")),
            ("2001", ItemKind.SALE, usd("1200.00")),
            ("1001", ItemKind.SALE, usd("343.99")),
        ]
        assert {i.tenant_id for i in items} == {"1"}
        assert {i.order_id for i in items} == {"9000001"}
        assert {i.occurred_at for i in items} == {AT}

    def test_replaying_the_order_books_nothing_new(self) -> None:
        """Pricing the same order again gives identical commands, keys included."""
        assert ENGINE.settle(self.ORDER).commands(0) == ENGINE.settle(self.ORDER).commands(0)

    def test_full_refund_mirrors_the_sale(self) -> None:
        """The negated split, as event 1, books -56.00, -1200.00 and -343.99 under new keys."""
        settled = ENGINE.settle(self.ORDER)
        sale = settled.commands(0)
        refund = attrs.evolve(settled, split=settled.split.negated()).commands(1)
        assert [(i.shop_id, i.kind, i.amount) for i in refund] == [
            (PLATFORM, ItemKind.REFUND, usd("-56.00")),
            ("2001", ItemKind.REFUND, usd("-1200.00")),
            ("1001", ItemKind.REFUND, usd("-343.99")),
        ]
        assert not {i.key for i in sale} & {i.key for i in refund}


class TestCommissionChargedToTheDistributor:
    """The same order with the commission charged to the distributor (R-FEE-4, two lines).

    Routed with a payer, the commission is the platform's income and a charge on
    the distributor: the distributor's share is what the goods leave after the
    supplier, and the commission appears as a fee item of its own, which a gross
    settled distributor is billed apart and a netting one has deducted.
    """

    ENGINE = FeeEngine(
        ScheduleMatcher([ScheduleRule(rule_id="distribution", schedule=DISTRIBUTION)]),
        RoutingTable(
            [
                Route("*", "*", "commission", PLATFORM, payer="@seller"),
                Route("*", "*", "supply_payment", "@supplier"),
            ]
        ),
    )

    def test_split_and_items(self) -> None:
        """Lines still sum to the order; the distributor nets 343.99 as before."""
        # platform +56.00, distributor -56.00 (charge), supplier +1200.00,
        # distributor remainder 1599.99 - (56.00 - 56.00) - 1200.00 = 399.99
        settled = self.ENGINE.settle(TestDistributorAndSupplier.ORDER)
        assert lines(settled.split.lines) == [
            (PLATFORM, "commission", "56.00"),
            ("1001", "commission", "-56.00"),
            ("2001", "supply_payment", "1200.00"),
            ("1001", "remainder", "399.99"),
        ]
        assert settled.split.by_party()["1001"] == usd("343.99")
        items = settled.commands(sequence=0)
        assert [(i.shop_id, i.kind, i.amount) for i in items] == [
            (PLATFORM, ItemKind.SALE, usd("56.00")),
            ("1001", ItemKind.FEE, usd("-56.00")),
            ("2001", ItemKind.SALE, usd("1200.00")),
            ("1001", ItemKind.SALE, usd("399.99")),
        ]
        assert len({i.key for i in items}) == 4

    def test_a_refund_gives_the_commission_back(self) -> None:
        """Negated, the charge becomes a fee refund of +56.00 for the distributor."""
        settled = self.ENGINE.settle(TestDistributorAndSupplier.ORDER)
        refund = attrs.evolve(settled, split=settled.split.negated()).commands(1)
        assert [(i.shop_id, i.kind, i.amount) for i in refund] == [
            (PLATFORM, ItemKind.REFUND, usd("-56.00")),
            ("1001", ItemKind.FEE_REFUND, usd("56.00")),
            ("2001", ItemKind.REFUND, usd("-1200.00")),
            ("1001", ItemKind.REFUND, usd("-399.99")),
        ]

    def test_a_fee_cannot_be_charged_to_its_own_payee(self) -> None:
        """Refused when routes are defined, or when an order fills both roles with one party."""
        with pytest.raises(InvalidRule):
            Route("*", "*", "commission", "@seller", payer="@seller")
        engine = FeeEngine(
            ScheduleMatcher([ScheduleRule(rule_id="distribution", schedule=DISTRIBUTION)]),
            RoutingTable(
                [
                    Route("*", "*", "commission", "@supplier", payer="@seller"),
                    Route("*", "*", "supply_payment", "@supplier"),
                ]
            ),
        )
        same = attrs.evolve(
            TestDistributorAndSupplier.ORDER, parties={"seller": "2001", "supplier": "2001"}
        )
        with pytest.raises(MissingParty):
            engine.settle(same)


class TestConcessionStore:
    """Seed 004 store mode: merchant 1001 sells at store 0001 of tenant 1 (order 8000002)."""

    @staticmethod
    def order(amount: str, order_id: str = "8000002") -> Order:
        """A concession order paying `amount` USD."""
        return Order(
            order_id=order_id,
            tenant_id="1",
            business="concession",
            amount=usd(amount),
            at=AT,
            attributes={"store": "0001"},
            parties={"seller": "1001", "store": "0001"},
            factors={"paid": D(amount), "concession_rate": D("0.18")},
        )

    def test_split(self) -> None:
        """The store's concession fee and the payment fee; the merchant keeps the rest."""
        # store 1234.56 x 0.18 = 222.2208 -> 222.22 half-up
        # payment 1234.56 x 0.006 = 7.40736 -> 7.41 half-even
        # merchant 1234.56 - 222.22 - 7.41 = 1004.93
        settled = ENGINE.settle(self.order("1234.56"))
        assert settled.rule_id == "concession"
        assert lines(settled.split.lines) == [
            ("0001", "concession_fee", "222.22"),
            (PLATFORM, "payment_fee", "7.41"),
            ("1001", "remainder", "1004.93"),
        ]

    @pytest.mark.parametrize(
        ("amount", "fee"),
        [
            ("2575.25", "15.45"),  # x 0.006 = 15.4515: below half a cent, down
            ("1.25", "0.01"),  # 0.0075: three quarters of a cent, up
            ("7.50", "0.04"),  # 0.045: exactly half a cent, to the even 4 (half-up gives 0.05)
            ("2.50", "0.02"),  # 0.015: exactly half a cent, to the even 2
        ],
    )
    def test_payment_fee_rounds_half_even(self, amount: str, fee: str) -> None:
        """The formula's own round_half_even(paid * 0.006, 2) decides the cent."""
        assert ENGINE.settle(self.order(amount)).fees.amounts["payment_fee"] == usd(fee)

    def test_merchant_absorbs_the_rounding(self) -> None:
        """7.50: store 7.50 x 0.18 = 1.35, payment 0.04, merchant 7.50 - 1.35 - 0.04 = 6.11."""
        assert lines(ENGINE.settle(self.order("7.50")).split.lines)[-1] == (
            "1001",
            "remainder",
            "6.11",
        )

    def test_partial_refund(self) -> None:
        """A 100.00 refund is priced like a sale with negative amounts and booked as refunds."""
        # store -100.00 x 0.18 = -18.00; payment -100.00 x 0.006 = -0.60
        # merchant -100.00 + 18.00 + 0.60 = -81.40
        settled = ENGINE.settle(self.order("-100.00"))
        assert lines(settled.split.lines) == [
            ("0001", "concession_fee", "-18.00"),
            (PLATFORM, "payment_fee", "-0.60"),
            ("1001", "remainder", "-81.40"),
        ]
        assert {i.kind for i in settled.commands(1)} == {ItemKind.REFUND}

    def test_factor_snapshot(self) -> None:
        """The result records exactly the factors used."""
        settled = ENGINE.settle(self.order("1234.56"))
        assert dict(settled.fees.factors) == {"paid": D("1234.56"), "concession_rate": D("0.18")}
        assert settled.fees.provided == ()


class TestShoppingGuide:
    """Seed 004: guide 100002 earns commission on order 8000003 at store 0002 of tenant 2."""

    POLICY = PolicyService({"guide_rate": D("0.025"), "guide_cap": D("50.00")})

    @staticmethod
    def order(amount: str) -> Order:
        """A guided concession order; the guide's rate and cap come from the policy system."""
        return Order(
            order_id="8000003",
            tenant_id="2",
            business="concession",
            amount=usd(amount),
            at=AT,
            attributes={"sale_channel": "guide"},
            parties={"seller": "1001", "store": "0002", "guide": "100002"},
            factors={"paid": D(amount), "concession_rate": D("0.18")},
        )

    def test_split(self) -> None:
        """Store fee, guide commission from the policy system, merchant keeps the rest."""
        # store 1199.99 x 0.18 = 215.9982 -> 216.00 half-up
        # guide 1199.99 x 0.025 = 29.99975, under the 50.00 cap, rounded down to 29.99
        # merchant 1199.99 - 216.00 - 29.99 = 954.00
        settled = ENGINE.settle(self.order("1199.99"), self.POLICY)
        assert settled.rule_id == "concession-guide"  # more specific than "concession"
        assert lines(settled.split.lines) == [
            ("0002", "concession_fee", "216.00"),
            ("100002", "guide_commission", "29.99"),
            ("1001", "remainder", "954.00"),
        ]

    def test_cap(self) -> None:
        """2500.00 x 0.025 = 62.50, capped at 50.00; store 450.00; merchant 2000.00."""
        settled = ENGINE.settle(self.order("2500.00"), self.POLICY)
        assert lines(settled.split.lines) == [
            ("0002", "concession_fee", "450.00"),
            ("100002", "guide_commission", "50.00"),
            ("1001", "remainder", "2000.00"),
        ]

    def test_refund_claws_back_the_capped_commission(self) -> None:
        """-2500.00 x 0.025 = -62.50, floored at -50.00: the guide returns what was paid."""
        settled = ENGINE.settle(self.order("-2500.00"), self.POLICY)
        assert settled.fees.amounts["guide_commission"] == usd("-50.00")

    def test_policy_factors_are_in_the_snapshot(self) -> None:
        """Provider-supplied rate and cap are recorded and marked as provided."""
        settled = ENGINE.settle(self.order("1199.99"), self.POLICY)
        assert dict(settled.fees.factors) == {
            "paid": D("1199.99"),
            "concession_rate": D("0.18"),
            "guide_rate": D("0.025"),
            "guide_cap": D("50.00"),
        }
        assert settled.fees.provided == ("guide_rate", "guide_cap")
        replayed = CONCESSION_WITH_GUIDE.compute("USD", settled.fees.factors)
        assert replayed.amounts == settled.fees.amounts

    def test_order_without_a_guide(self) -> None:
        """A guided order that names no guide cannot be split."""
        order = self.order("10.00")
        unguided = Order(
            order_id=order.order_id,
            tenant_id=order.tenant_id,
            business=order.business,
            amount=order.amount,
            at=order.at,
            attributes=order.attributes,
            parties={"seller": "1001", "store": "0002"},
            factors=order.factors,
        )
        with pytest.raises(MissingParty, match="guide"):
            ENGINE.settle(unguided, self.POLICY)


class TestEngineErrors:
    """Orders the configuration does not cover fail with typed errors."""

    def test_unknown_business(self) -> None:
        """No schedule rule for the business: NoMatchingSchedule."""
        order = Order(order_id="1", tenant_id="1", business="lottery", amount=usd("1.00"), at=AT)
        with pytest.raises(NoMatchingSchedule, match="lottery"):
            ENGINE.settle(order)

    def test_fee_without_a_route(self) -> None:
        """A fee nobody settles: NoRoute, before anything is split."""
        engine = FeeEngine(
            ScheduleMatcher([ScheduleRule(rule_id="all", schedule=CONCESSION)]),
            RoutingTable([Route("*", "*", "concession_fee", "@store")]),
        )
        order = TestConcessionStore.order("10.00")
        with pytest.raises(NoRoute, match="payment_fee"):
            engine.settle(order)

    def test_engine_needs_configuration_objects(self) -> None:
        """Plain lists are refused."""
        with pytest.raises(ValueError, match="ScheduleMatcher"):
            FeeEngine([], [])  # type: ignore[arg-type]


class TestOrder:
    """The order value the engine prices."""

    BASE: Mapping[str, Any] = {
        "order_id": "o-1",
        "tenant_id": "t1",
        "business": "retail",
        "amount": money("10.00", "USD"),
        "at": AT,
    }

    def test_match_attributes_include_tenant_and_business(self) -> None:
        """Matching sees tenant and business next to the other attributes."""
        order = Order(**self.BASE, attributes={"category": "books"})
        assert order.match_attributes() == {
            "tenant": "t1",
            "business": "retail",
            "category": "books",
        }
        assert order.currency == "USD"

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"order_id": "has space"}, "order_id"),
            ({"tenant_id": ""}, "tenant_id"),
            ({"amount": D("10.00")}, "Money"),
            ({"amount": Money(D("1.001"), "USD")}, "decimal places"),
            ({"at": datetime(2024, 6, 1)}, "aware"),
            ({"attributes": {"tenant": "t2"}}, "own field"),
            ({"attributes": {"category": 1}}, "string"),
            ({"attributes": []}, "mapping"),
            ({"parties": {"seller": "has space"}}, "seller"),
            ({"parties": {"not a role": "p"}}, "role"),
            ({"factors": {"price": 1.5}}, "price"),
            ({"factors": {"not a name": D(1)}}, "factor name"),
        ],
    )
    def test_bad_orders(self, change: Mapping[str, Any], message: str) -> None:
        """Every field is checked when the order is built."""
        with pytest.raises(ValueError, match=message):
            Order(**{**self.BASE, **change})

    def test_order_mappings_are_frozen(self) -> None:
        """The factors the order carries cannot change under the engine."""
        order = Order(**self.BASE, factors={"price": D(1)})
        with pytest.raises(TypeError):
            order.factors["price"] = D(2)  # type: ignore[index]
