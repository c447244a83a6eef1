"""Contract suite: fee engine results booked and stored with their factor snapshots.

Use as the other suites: subclass `FeeBookingContract` in a test module that
provides the `settlement_build` fixture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs
import pytest

from settlement_core.errors import IdempotencyConflict, MissingFactor
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
from settlement_core.model import CalculatedLine
from settlement_core.money import Money, Rounding, money
from settlement_core.ports import ItemFilter, paged
from settlement_core.testing.contracts import _Suite
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, Marketplace

SCHEDULE = FeeSchedule(
    name="distribution",
    factors=("price", "coupon", "commission_rate"),
    fees=(
        Fee("goods", "price - coupon", Rounding.HALF_UP, booked=False),
        Fee("commission", "goods * commission_rate", Rounding.HALF_UP),
    ),
)
ENGINE = FeeEngine(
    ScheduleMatcher([ScheduleRule(rule_id="distribution-v1", schedule=SCHEDULE)]),
    RoutingTable([Route("*", "*", "commission", "platform")]),
)


class Policies:
    """A factor provider standing in for the host's policy system; counts its calls."""

    def __init__(self, rate: str) -> None:
        self.rate = Decimal(rate)
        self.calls = 0

    def factors(self, names: Sequence[str], order: Order) -> Mapping[str, Decimal]:
        """The commission rate, when asked for."""
        self.calls += 1
        return {"commission_rate": self.rate} if "commission_rate" in names else {}


def _usd(amount: str) -> Money:
    return money(amount, "USD")


class FeeBookingContract(_Suite):
    """settle_order prices, books and stores once per order event (R-FEE-1, R-ING-1)."""

    def _order(self, market: Marketplace, amount: str = "95.00", **factors: str) -> Order:
        market.shop("seller-1")
        market.shop("platform")
        values = {"price": "100.00", "coupon": "5.00", **factors}
        return Order(
            order_id="o-1",
            tenant_id=TENANT,
            business="retail",
            amount=_usd(amount),
            at=market.clock.now(),
            parties={"seller": "seller-1"},
            factors={name: Decimal(v) for name, v in values.items()},
        )

    def _items(self, market: Marketplace) -> int:
        return len(
            list(paged(lambda c: market.app.query_items(ItemFilter(tenant_id=TENANT), c, 500)))
        )

    def test_a_calculation_is_stored_with_every_factor_used(self, market: Marketplace) -> None:
        """The snapshot holds given and provided factors; the lines are booked as items."""
        policies = Policies("0.035")
        stored = market.app.settle_order(ENGINE, self._order(market), 0, policies)
        assert (stored.rule_id, stored.schedule, stored.sequence) == (
            "distribution-v1",
            "distribution",
            0,
        )
        assert stored.factors == {"price": "100.00", "coupon": "5.00", "commission_rate": "0.035"}
        assert stored.provided == ("commission_rate",)
        # goods 95.00; commission 95.00 x 0.035 = 3.325 -> 3.33 half up; seller 91.67
        assert stored.fee("goods") == _usd("95.00")
        assert stored.fee("commission") == _usd("3.33")
        assert stored.lines == (
            CalculatedLine("platform", "commission", 333),
            CalculatedLine("seller-1", "remainder", 9167),
        )
        items = market.app.get_items(TENANT, list(stored.item_ids))
        assert sorted((i.amount_minor, i.order_id) for i in items) == [(333, "o-1"), (9167, "o-1")]
        [again] = market.app.fee_calculations(TENANT, "o-1")
        assert again.id == stored.id and again.factors == stored.factors
        # An auditor recomputes every fee from the snapshot alone.
        replayed = SCHEDULE.evaluate(
            attrs.evolve(
                self._order(market), factors={k: Decimal(v) for k, v in again.factors.items()}
            )
        )
        assert dict(replayed.amounts) == {k: again.fee(k) for k in again.fees_minor}
        assert_invariants(market)

    def test_a_replay_books_nothing_and_asks_no_provider(self, market: Marketplace) -> None:
        """The same event again returns what was stored, even if the policy changed since."""
        policies = Policies("0.035")
        order = self._order(market)
        first = market.app.settle_order(ENGINE, order, 0, policies)
        policies.rate = Decimal("0.5")
        again = market.app.settle_order(ENGINE, order, 0, policies)
        assert (again.id, again.fees_minor) == (first.id, first.fees_minor)
        assert policies.calls == 1
        assert self._items(market) == 2

    def test_another_request_under_the_same_event_is_refused(self, market: Marketplace) -> None:
        """Same order and sequence, other content: a conflict, and nothing more is stored."""
        market.app.settle_order(ENGINE, self._order(market, commission_rate="0.035"), 0)
        other = self._order(market, commission_rate="0.04")
        with pytest.raises(IdempotencyConflict):
            market.app.settle_order(ENGINE, other, 0)
        assert self._items(market) == 2
        assert len(market.app.fee_calculations(TENANT, "o-1")) == 1

    def test_a_failed_pricing_stores_nothing(self, market: Marketplace) -> None:
        """A missing factor raises before anything is booked or kept."""
        with pytest.raises(MissingFactor):
            market.app.settle_order(ENGINE, self._order(market), 0)
        assert self._items(market) == 0
        assert market.app.fee_calculations(TENANT, "o-1") == []

    def test_a_refund_is_the_next_event_and_nets_to_zero(self, market: Marketplace) -> None:
        """Sequence 1 prices the refund; every party is back where it started."""
        sale = self._order(market, commission_rate="0.035")
        market.app.settle_order(ENGINE, sale, 0)
        refund = attrs.evolve(
            sale,
            amount=_usd("-95.00"),
            factors={**sale.factors, "price": Decimal("-100.00"), "coupon": Decimal("-5.00")},
        )
        market.app.settle_order(ENGINE, refund, 1)
        assert [c.sequence for c in market.app.fee_calculations(TENANT, "o-1")] == [0, 1]
        for shop in ("seller-1", "platform"):
            account = market.shop(shop)
            assert market.app.balance(TENANT, account).pending == {}
        assert market.app.fee_calculations("tenant-b", "o-1") == []
        assert_invariants(market)
