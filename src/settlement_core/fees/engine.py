"""The fee engine: match a schedule, compute its fees, route them and split the order.

Seed 004's billing engine (103) without its storage: the host hands in an
order, the engine returns every fee, the factor snapshot and the exact split,
and `OrderSettlement.commands` turns the split into billing items. The engine
knows nothing of particular fee types; those live in schedules and registered
calculators.
"""

from __future__ import annotations

from attrs import frozen

from settlement_core.errors import InvalidRule
from settlement_core.fees.billing import billing_items
from settlement_core.fees.matcher import ScheduleMatcher
from settlement_core.fees.order import FactorProvider, Order
from settlement_core.fees.routing import RoutingTable
from settlement_core.fees.schedule import FeeResult
from settlement_core.fees.split import Split, SplitLine, split_amount
from settlement_core.model.commands import RecordBillingItem
from settlement_core.money import from_minor, to_minor

__all__ = ["FeeEngine", "OrderSettlement"]


@frozen
class OrderSettlement:
    """What pricing one order produced: the rule used, its fees and the split."""

    order: Order
    rule_id: str
    fees: FeeResult
    split: Split

    def commands(self, sequence: int, run_id: str | None = None) -> tuple[RecordBillingItem, ...]:
        """The billing items booking this split as order event number `sequence`."""
        return billing_items(
            self.split,
            tenant_id=self.order.tenant_id,
            order_id=self.order.order_id,
            occurred_at=self.order.at,
            sequence=sequence,
            run_id=run_id,
        )


class FeeEngine:
    """Prices orders with the schedules of a matcher and the parties of a routing table."""

    def __init__(self, matcher: ScheduleMatcher, routes: RoutingTable) -> None:
        """An engine over configuration that is already checked."""
        if not isinstance(matcher, ScheduleMatcher) or not isinstance(routes, RoutingTable):
            raise InvalidRule("a FeeEngine needs a ScheduleMatcher and a RoutingTable")
        self._matcher = matcher
        self._routes = routes

    def settle(self, order: Order, provider: FactorProvider | None = None) -> OrderSettlement:
        """Every fee of the order, each routed to its party, plus the exact split."""
        rule = self._matcher.select(order.match_attributes(), order.at)
        schedule = rule.schedule
        fees = schedule.evaluate(order, provider)
        lines: list[SplitLine] = []
        for name in schedule.booked:
            amount = fees.amounts[name]
            payee, payer = self._routes.parties_for(
                order.tenant_id, order.business, name, order.parties
            )
            lines.append(SplitLine(payee, name, amount))
            if payer is not None:
                # The pair nets to zero, so the split's remainder is not reduced by it.
                lines.append(
                    SplitLine(payer, name, from_minor(-to_minor(amount), amount.currency), True)
                )
        split = split_amount(order.amount, lines, schedule.split, order.parties)
        return OrderSettlement(order, rule.rule_id, fees, split)
