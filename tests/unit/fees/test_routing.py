"""Routing fees to settlement parties: wildcards, precedence, roles and typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from settlement_core.errors import InvalidRule, NotFound
from settlement_core.fees import WILDCARD, MissingParty, NoRoute, Route, RoutingTable

PARTIES = {"seller": "1001", "supplier": "2001"}


def table(*routes: tuple[str, str, str, str]) -> RoutingTable:
    """A table from (tenant, business, fee, party) tuples."""
    return RoutingTable(Route(*route) for route in routes)


class TestPrecedence:
    """The most specific route wins; ties go to fee, then tenant, then business."""

    ROUTES = (
        ("*", "*", "*", "platform"),
        ("*", "*", "commission", "commissions"),
        ("1", "*", "*", "tenant-1"),
        ("*", "1001", "*", "lottery"),
        ("1", "1001", "*", "t1-lottery"),
        ("1", "*", "commission", "t1-commissions"),
        ("*", "1001", "commission", "lottery-commissions"),
        ("1", "1001", "commission", "exact"),
    )

    @pytest.mark.parametrize(
        ("key", "party"),
        [
            (("1", "1001", "commission"), "exact"),
            (("1", "2002", "commission"), "t1-commissions"),  # fee+tenant beat fee+business
            (("2", "1001", "commission"), "lottery-commissions"),
            (("1", "1001", "goods"), "t1-lottery"),
            (("2", "2002", "commission"), "commissions"),  # an exact fee beats an exact tenant
            (("1", "2002", "goods"), "tenant-1"),  # an exact tenant beats an exact business
            (("2", "1001", "goods"), "lottery"),
            (("2", "2002", "goods"), "platform"),
        ],
    )
    def test_most_specific_route_wins(self, key: tuple[str, str, str], party: str) -> None:
        """Each key falls to the route the documented precedence names."""
        assert table(*self.ROUTES).party_for(*key, PARTIES) == party

    def test_precedence_does_not_depend_on_definition_order(self) -> None:
        """Reversing the table changes nothing."""
        forward = table(*self.ROUTES)
        backward = table(*reversed(self.ROUTES))
        for tenant in ("1", "2"):
            for business in ("1001", "2002"):
                for fee in ("commission", "goods"):
                    assert forward.route(tenant, business, fee) == backward.route(
                        tenant, business, fee
                    )

    def test_seed_table(self) -> None:
        """Seed 004: tenant 1 business 1001 fee 31 -> 900001; tenant 2 fee 32 -> 900002."""
        routes = table(("1", "1001", "fee_31", "900001"), ("2", "1001", "fee_32", "900002"))
        assert routes.party_for("1", "1001", "fee_31", {}) == "900001"
        assert routes.party_for("2", "1001", "fee_32", {}) == "900002"
        with pytest.raises(NoRoute):
            routes.party_for("1", "1001", "fee_32", {})


class TestRoles:
    """A route may name a role the order fills."""

    def test_role_resolves_through_the_order_parties(self) -> None:
        """@supplier is the order's supplier."""
        routes = table((WILDCARD, WILDCARD, "supply", "@supplier"))
        assert routes.party_for("1", "b", "supply", PARTIES) == "2001"

    def test_missing_role_is_typed(self) -> None:
        """An order without a guide cannot pay a guide commission."""
        routes = table(("*", "*", "guide_commission", "@guide"))
        with pytest.raises(MissingParty, match=r"'@guide'.*no 'guide' party"):
            routes.party_for("1", "b", "guide_commission", PARTIES)


class TestErrors:
    """What routing refuses."""

    def test_no_route_is_a_typed_not_found(self) -> None:
        """A fee nobody settles raises NoRoute naming tenant, business and fee."""
        with pytest.raises(NoRoute, match="fee 'penalty' of business 'b' at tenant '1'") as caught:
            table(("*", "*", "commission", "p")).party_for("1", "b", "penalty", PARTIES)
        assert isinstance(caught.value, NotFound)

    def test_conflicting_routes_are_refused(self) -> None:
        """Two parties for the same keys contradict each other."""
        with pytest.raises(InvalidRule, match="disagree: 'a' and 'b'"):
            table(("1", "*", "fee", "a"), ("1", "*", "fee", "b"))

    def test_identical_routes_are_harmless(self) -> None:
        """Repeating a route is idempotent."""
        assert len(table(("1", "*", "fee", "a"), ("1", "*", "fee", "a")).routes) == 1

    @pytest.mark.parametrize(
        ("route", "message"),
        [
            (("", "*", "fee", "p"), "tenant"),
            (("1", "a b", "fee", "p"), "business"),
            (("1", "*", "not a name", "p"), "route fee"),
            (("1", "*", "fee", ""), "route party"),
            (("1", "*", "fee", "@"), "role"),
            (("1", "*", "fee", "@not a role"), "role"),
            (("1", "*", "fee", "has space"), "route party"),
        ],
    )
    def test_bad_routes(self, route: tuple[Any, Any, Any, Any], message: str) -> None:
        """Keys are ids or the wildcard, fees are names, parties are ids or @roles."""
        with pytest.raises(InvalidRule, match=message):
            Route(*route)

    def test_table_holds_only_routes(self) -> None:
        """Plain tuples are refused."""
        with pytest.raises(InvalidRule, match="Routes"):
            RoutingTable([("1", "*", "fee", "a")])  # type: ignore[list-item]
