"""Which settlement party settles which fee, as configuration (R-FEE-3, seed 004).

A route maps (tenant, business line, fee) to a payee: a fixed settlement party
id (the platform entity ``900001``) or a role the order fills (``@seller``,
``@supplier``). Any of the three keys may be the wildcard ``*``.

A route may also name the fee's payer (R-FEE-4): the fee is then booked twice,
as the payee's income and as a charge on the payer (a fee item), instead of
silently reducing what the split leaves the payer. A payer who settles gross
is billed its charges apart; one who nets has them deducted as before.

Precedence, most specific first: a route with more exact keys wins; between
routes with as many exact keys, an exact fee wins (a route written for that fee
beats a catch-all), then an exact tenant, then an exact business line. Each key
combination holds one route, so the answer is always unique.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any, Final

from attrs import field, frozen

from settlement_core.errors import InvalidIdentifier, InvalidRule
from settlement_core.fees.errors import MissingParty, NoRoute
from settlement_core.fees.values import check_name, check_payee, resolve_payee
from settlement_core.ids import external_id

__all__ = ["Route", "RoutingTable", "WILDCARD"]

WILDCARD: Final = "*"

# The 8 ways of replacing (tenant, business, fee) by the wildcard, most specific
# first; True keeps the key. Ties go to an exact fee, then tenant, then business.
_PRECEDENCE: Final = sorted(
    itertools.product((True, False), repeat=3),
    key=lambda mask: (-sum(mask), not mask[2], not mask[0], not mask[1]),
)


def _scope(_instance: object, attribute: Any, value: Any) -> None:
    if value == WILDCARD:
        return
    try:
        external_id(value, f"route {attribute.name}")
    except InvalidIdentifier as exc:
        raise InvalidRule(str(exc)) from None


def _fee(_instance: object, _attribute: object, value: Any) -> None:
    if value != WILDCARD:
        check_name(value, "route fee")


def _payee(_instance: object, _attribute: object, value: Any) -> None:
    check_payee(value, "route party")


def _payer(instance: Route, _attribute: object, value: Any) -> None:
    if value is None:
        return
    check_payee(value, "route payer")
    if value == instance.party:
        raise InvalidRule(f"fee {instance.fee!r} cannot be charged to its own payee {value!r}")


@frozen
class Route:
    """Fee `fee` of business `business` at tenant `tenant` is settled by `party`.

    With `payer`, the fee is charged to that party as a line of its own.
    """

    tenant: str = field(validator=_scope)
    business: str = field(validator=_scope)
    fee: str = field(validator=_fee)
    party: str = field(validator=_payee)
    payer: str | None = field(default=None, validator=_payer)

    @property
    def key(self) -> tuple[str, str, str]:
        """The (tenant, business, fee) this route answers for."""
        return (self.tenant, self.business, self.fee)


class RoutingTable:
    """An immutable set of routes, answering "who settles this fee"."""

    def __init__(self, routes: Iterable[Route]) -> None:
        """Index the routes; two routes for the same keys and different parties are refused."""
        self._routes: dict[tuple[str, str, str], Route] = {}
        for route in routes:
            if not isinstance(route, Route):
                raise InvalidRule(f"a routing table holds Routes, got {type(route).__name__}")
            existing = self._routes.get(route.key)
            if existing is not None and existing != route:
                raise InvalidRule(
                    f"routes for {route.key} disagree: {existing.party!r} and {route.party!r}"
                )
            self._routes[route.key] = route

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route, in the order first given."""
        return tuple(self._routes.values())

    def route(self, tenant: str, business: str, fee: str) -> Route:
        """The most specific route for the fee; NoRoute if none applies."""
        key = (tenant, business, fee)
        for mask in _PRECEDENCE:
            pattern = tuple(
                part if keep else WILDCARD for part, keep in zip(key, mask, strict=True)
            )
            found = self._routes.get((pattern[0], pattern[1], pattern[2]))
            if found is not None:
                return found
        raise NoRoute(f"no route for fee {fee!r} of business {business!r} at tenant {tenant!r}")

    def party_for(self, tenant: str, business: str, fee: str, parties: Mapping[str, str]) -> str:
        """The settlement party id for the fee, resolving a role through the order's parties."""
        return self.parties_for(tenant, business, fee, parties)[0]

    def parties_for(
        self, tenant: str, business: str, fee: str, parties: Mapping[str, str]
    ) -> tuple[str, str | None]:
        """(payee, payer or None) of the fee, roles resolved through the order's parties."""
        route = self.route(tenant, business, fee)
        payee = resolve_payee(route.party, parties, f"fee {fee!r}")
        if route.payer is None:
            return payee, None
        payer = resolve_payee(route.payer, parties, f"the charge of fee {fee!r}")
        if payer == payee:
            raise MissingParty(f"fee {fee!r} would be charged to its own payee {payee!r}")
        return payee, payer
