"""Hypothesis strategies: currencies, amounts valid for each, rules, item streams."""

from __future__ import annotations

from decimal import Decimal

import attrs
from attrs import frozen
from hypothesis import strategies as st

from settlement_core.model import ItemKind, OpenAccount
from settlement_core.money import Money, exponent, from_minor
from settlement_core.rules import Cycle, CycleKind, PayoutRule

CURRENCIES = ("USD", "EUR", "JPY", "KWD", "GBP", "CLP", "BHD")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Santiago")


def currencies() -> st.SearchStrategy[str]:
    """ISO codes with 0, 2 and 3 decimals."""
    return st.sampled_from(CURRENCIES)


def amounts(
    currency: str, min_minor: int = -(10**9), max_minor: int = 10**9
) -> st.SearchStrategy[Money]:
    """Money with exactly the digits the currency allows."""
    return st.integers(min_minor, max_minor).map(lambda units: from_minor(units, currency))


def decimal_strings(currency: str) -> st.SearchStrategy[str]:
    """Amount strings a host might send, valid for the currency."""
    places = exponent(currency)
    return st.integers(-(10**12), 10**12).map(lambda units: str(Decimal(units).scaleb(-places)))


def cycles() -> st.SearchStrategy[Cycle]:
    """Any cycle kind with any anchor."""
    return st.one_of(
        st.just(Cycle.daily()),
        st.integers(0, 6).map(lambda d: Cycle.weekly(anchor_weekday=d)),
        st.integers(0, 6).map(lambda d: Cycle.biweekly(anchor_weekday=d)),
        st.integers(1, 31).map(lambda d: Cycle.monthly(anchor_day=d)),
    )


def payout_rules(rule_id: str = "random") -> st.SearchStrategy[PayoutRule]:
    """Rules with random cycles, thresholds, holds, approval and delays (same currency)."""
    return st.builds(
        PayoutRule,
        rule_id=st.just(rule_id),
        cycle=cycles(),
        auto_payment=st.booleans(),
        payment_threshold=st.one_of(st.none(), amounts("USD", 0, 10_000)),
        is_hold=st.booleans(),
        delay_days=st.integers(0, 5),
    )


@frozen
class ItemSpec:
    """One billing item of a generated stream: which shop, kind and amount."""

    shop: int
    kind: ItemKind
    minor: int
    currency: str


def item_specs(
    shops: int = 3, currencies_: tuple[str, ...] = ("USD", "EUR")
) -> st.SearchStrategy[ItemSpec]:
    """Sales and refunds (mostly sales) for a few shops."""
    sale = st.builds(
        ItemSpec,
        shop=st.integers(0, shops - 1),
        kind=st.just(ItemKind.SALE),
        minor=st.integers(1, 50_000),
        currency=st.sampled_from(currencies_),
    )
    refund = st.builds(
        ItemSpec,
        shop=st.integers(0, shops - 1),
        kind=st.just(ItemKind.REFUND),
        minor=st.integers(-30_000, -1),
        currency=st.sampled_from(currencies_),
    )
    return st.one_of(sale, sale, sale, refund)


def open_accounts(
    tenant_id: str, rule_ids: tuple[str, ...], count: int = 3
) -> st.SearchStrategy[list[OpenAccount]]:
    """Accounts with distinct shop ids, random zones, attributes and pinned rules."""
    one = st.builds(
        OpenAccount,
        tenant_id=st.just(tenant_id),
        shop_id=st.just("placeholder"),
        time_zone=st.sampled_from(ZONES),
        attributes=st.dictionaries(
            st.sampled_from(["region", "seller_type"]), st.sampled_from(["EU", "US", "pro"])
        ),
        rule_override=st.one_of(st.none(), st.sampled_from(rule_ids)),
    )
    return st.lists(one, min_size=count, max_size=count).map(
        lambda accounts: [attrs.evolve(a, shop_id=f"shop-{i}") for i, a in enumerate(accounts)]
    )


@frozen
class Stream:
    """Items to send in order; `replays` are indexes of earlier items sent again."""

    items: tuple[ItemSpec, ...]
    replays: tuple[int, ...]


@st.composite
def item_streams(draw: st.DrawFn, shops: int = 3, max_items: int = 30) -> Stream:
    """A stream of sales and refunds, with some items sent again (at-least-once delivery)."""
    items = tuple(draw(st.lists(item_specs(shops), min_size=1, max_size=max_items)))
    replays = tuple(draw(st.lists(st.integers(0, len(items) - 1), max_size=max_items // 2)))
    return Stream(items, replays)


__all__ = [
    "CURRENCIES",
    "ZONES",
    "CycleKind",
    "ItemSpec",
    "amounts",
    "currencies",
    "cycles",
    "decimal_strings",
    "item_specs",
    "item_streams",
    "open_accounts",
    "Stream",
    "payout_rules",
]
