"""The bad-input catalogue: every refused request raises a typed error and stores nothing.

Each case is one request a host, an operator or an attacker might send, the
typed error from settlement_core.errors it must raise, and a fragment of the
message that tells the caller what was wrong. Every case runs on memory and
SQLite against a store that already holds two tenants' accounts, items,
statements, a paid payout, a created one, one waiting for approval and an
unfunded release summary; the store's full contents (`store_rows`: every
table, every row) are compared before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from attrs import frozen

from settlement_adapters.snapshots import store_rows
from settlement_adapters.testing import ChannelMarket, empty_store, store_build
from settlement_core.errors import (
    BadSignature,
    ExcessPrecision,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidIdentifier,
    InvalidRule,
    InvalidTimestamp,
    InvalidTransition,
    NotFound,
    SettlementError,
    UnknownChannel,
    UnknownCurrency,
    ValidationError,
)
from settlement_core.fees import engine_from_config
from settlement_core.lifecycle import PayoutStatus
from settlement_core.model import (
    AmountBasis,
    ApprovePayout,
    InstantPayout,
    ItemKind,
    OpenAccount,
    RecordBillingItem,
)
from settlement_core.money import Money, money
from settlement_core.ports import ItemFilter, PayoutFilter, StatementFilter
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT

OTHER = "tenant-b"


@frozen
class World:
    """The store under test and the ids the cases aim at."""

    market: ChannelMarket
    engine: Any
    ids: dict[str, str]

    @property
    def app(self) -> Settlement:
        """The service."""
        return self.market.app

    def item(self, **changes: Any) -> RecordBillingItem:
        """A valid new sale for seller s1, with `changes` applied (unchecked)."""
        good = RecordBillingItem(
            tenant_id=TENANT,
            shop_id="s1",
            key="new-key",
            order_id="new-order",
            kind=ItemKind.SALE,
            amount=money("10.00", "USD"),
            occurred_at=self.market.clock.now(),
        )
        # attrs.evolve would run no validation either: the library must do it.
        return attrs.evolve(good, **changes)


def _world(market: ChannelMarket, engine: Any) -> World:
    """Two tenants, a paid payout, a created one, one waiting for approval, a summary."""
    app = market.app
    [paid] = market.released({"s2": "25.00"})
    market.advance(minutes=40)
    market.deliver()
    assert market.status(paid) is PayoutStatus.PAID
    market.seller("s1")
    market.seller("manual", rule="manual")
    market.order("s1", "30.00", key="s1-sale")
    market.order("manual", "12.00")
    market.advance(days=1)
    _, created = market.run_jobs()
    [summary] = app.prepare_release(market.clock.now())
    payouts = {app.get_payout(TENANT, p).status: p for p in created}
    other = app.get_or_create_account(OpenAccount(tenant_id=OTHER, shop_id="b1")).account
    receipt = app.record_billing_item(
        RecordBillingItem(
            tenant_id=OTHER,
            shop_id="b1",
            key="b-sale",
            order_id="b-order",
            kind=ItemKind.SALE,
            amount=money("9.00", "USD"),
            occurred_at=market.clock.now(),
        )
    )
    s1 = app.find_account(TENANT, "s1")
    assert s1 is not None
    return World(
        market,
        engine,
        {
            "s1": s1.id,
            "paid": paid.id,
            "created": payouts[PayoutStatus.CREATED],
            "manual": payouts[PayoutStatus.PENDING_APPROVAL],
            "summary": summary,
            "statement": app.get_payout(TENANT, paid.id).statement_ids[0],
            "other_account": other.id,
            "other_item": receipt.item_id,
            "other_statement": receipt.statement_id,
        },
    )


@frozen
class Case:
    """One refused request: what is sent, the error it gets, what the message says."""

    name: str
    send: Callable[[World], object]
    error: type[SettlementError]
    says: str


def _record(**changes: Any) -> Callable[[World], object]:
    return lambda w: w.app.record_billing_item(w.item(**changes))


def _future(w: World) -> datetime:
    return w.market.clock.now() + timedelta(days=2)


def _naive(w: World) -> datetime:
    return w.market.clock.now().replace(tzinfo=None)


def _fund(amount: Money, reference: str = "wire-bad", channel: str = "bank-a") -> Any:
    return lambda w: w.app.record_funding(TENANT, channel, amount, reference)


def _instant(amount: Money, key: str = "instant-bad") -> Any:
    return lambda w: w.app.instant_payout(
        InstantPayout(tenant_id=TENANT, account_id=w.ids["s1"], amount=amount, key=key)
    )


def _open(**changes: Any) -> Any:
    good = {"tenant_id": TENANT, "shop_id": "fresh-shop"}
    return lambda w: w.app.get_or_create_account(OpenAccount(**{**good, **changes}))


NAN = Money(Decimal("NaN"), "USD")
INF = Money(Decimal("Infinity"), "USD")

CASES = [
    # amounts: floats, NaN, infinities, too many decimals
    Case("float amount", _record(amount=1.5), InvalidAmount, "must be money"),
    Case("float to money()", lambda w: money(1.5, "USD"), InvalidAmount, "float"),  # type: ignore[arg-type]
    Case("NaN amount", _record(amount=NAN), InvalidAmount, "not finite"),
    Case("infinite amount", _record(amount=INF), InvalidAmount, "not finite"),
    Case("minus infinity", _record(amount=-INF), InvalidAmount, "not finite"),
    Case("NaN string", lambda w: money("NaN", "USD"), InvalidAmount, "plain decimal"),
    Case("exponent string", lambda w: money("1e3", "USD"), InvalidAmount, "plain decimal"),
    Case(
        "three decimals in USD",
        _record(amount=Money(Decimal("1.234"), "USD")),
        ExcessPrecision,
        "decimal places",
    ),
    Case(
        "decimals in JPY",
        _record(amount=Money(Decimal("100.5"), "JPY")),
        ExcessPrecision,
        "decimal places",
    ),
    Case(
        "four decimals in KWD",
        _record(amount=Money(Decimal("1.2345"), "KWD")),
        ExcessPrecision,
        "decimal places",
    ),
    Case("huge amount", lambda w: money("1" * 70, "USD"), InvalidAmount, "digits"),
    Case(
        "amount beyond what storage holds",
        _record(amount=money("92233720368547758.08", "USD")),
        InvalidAmount,
        "largest amount",
    ),
    Case(
        "funding beyond what storage holds",
        _fund(money("1" + "0" * 20, "USD")),
        InvalidAmount,
        "largest amount",
    ),
    # currencies
    Case("unknown currency", lambda w: money("1.00", "ABC"), UnknownCurrency, "unknown"),
    Case("lower-case currency", lambda w: money("1.00", "usd"), UnknownCurrency, "usd"),
    Case("currency without minor unit", lambda w: money("1", "XAU"), UnknownCurrency, "xau"),
    Case(
        "replay in another currency",
        lambda w: w.app.record_billing_item(w.item(key="s1-sale", amount=money("30.00", "EUR"))),
        IdempotencyConflict,
        "s1-sale",
    ),
    Case(
        "instant payout in a currency the account lacks",
        _instant(money("1.00", "JPY")),
        InsufficientBalance,
        "jpy",
    ),
    # signs: negative or zero where not allowed
    Case("negative sale", _record(amount=money("-1.00", "USD")), InvalidAmount, "positive"),
    Case("zero sale", _record(amount=money("0", "USD")), InvalidAmount, "positive"),
    Case(
        "positive refund",
        _record(kind=ItemKind.REFUND, amount=money("1.00", "USD")),
        InvalidAmount,
        "negative",
    ),
    Case(
        "zero adjustment",
        _record(kind=ItemKind.ADJUSTMENT, amount=money("0", "USD")),
        InvalidAmount,
        "zero",
    ),
    Case(
        "negative order total",
        _record(basis=AmountBasis.ORDER_TOTAL, amount=money("-5.00", "USD")),
        InvalidAmount,
        "order total",
    ),
    Case("negative funding", _fund(money("-5.00", "USD")), InvalidAmount, "funding amount"),
    Case("zero funding", _fund(money("0", "USD")), InvalidAmount, "funding amount"),
    Case("negative instant payout", _instant(money("-1.00", "USD")), InvalidAmount, "amount"),
    Case("zero instant payout", _instant(money("0", "USD")), InvalidAmount, "amount"),
    # identifiers: empty, oversized, non-ASCII, control characters, wrong type
    Case("empty key", _record(key=""), InvalidIdentifier, "key must not be empty"),
    Case("empty order id", _record(order_id=""), InvalidIdentifier, "order_id"),
    Case("empty shop id", _record(shop_id=""), InvalidIdentifier, "shop_id"),
    Case("empty tenant", _record(tenant_id=""), InvalidIdentifier, "tenant_id"),
    Case("oversized key", _record(key="k" * 129), InvalidIdentifier, "at most 128"),
    Case("oversized order id", _record(order_id="o" * 5000), InvalidIdentifier, "at most 128"),
    Case("non-ASCII key", _record(key="ключ-1"), InvalidIdentifier, "printable ascii"),
    Case("non-ASCII shop", _record(shop_id="магазин"), InvalidIdentifier, "printable ascii"),
    Case("key with a space", _record(key="a key"), InvalidIdentifier, "without spaces"),
    Case("key with a newline", _record(key="k\n1"), InvalidIdentifier, "printable ascii"),
    Case("key with a NUL", _record(key="k\x001"), InvalidIdentifier, "printable ascii"),
    Case("key not a string", _record(key=12), InvalidIdentifier, "must be a string"),
    Case("kind not a kind", _record(kind="sale"), ValidationError, "kind must be one of"),
    Case(
        "empty funding reference", _fund(money("5.00", "USD"), ""), InvalidIdentifier, "reference"
    ),
    Case("non-ASCII shop to open", _open(shop_id="shop-é"), InvalidIdentifier, "shop_id"),
    Case("unknown time zone", _open(time_zone="Mars/Olympus"), ValidationError, "mars/olympus"),
    Case("unknown rule override", _open(rule_override="no-such-rule"), ValidationError, "no-such"),
    Case(
        "too many account attributes",
        _open(attributes={f"a{n}": "v" for n in range(100)}),
        InvalidIdentifier,
        "attributes",
    ),
    # timestamps without a time zone, and in the future
    Case(
        "naive occurred_at",
        lambda w: w.app.record_billing_item(w.item(occurred_at=_naive(w))),
        InvalidTimestamp,
        "time-zone aware",
    ),
    Case(
        "occurred_at in the future",
        lambda w: w.app.record_billing_item(w.item(occurred_at=_future(w))),
        InvalidTimestamp,
        "in the future",
    ),
    Case(
        "close as of a naive time",
        lambda w: w.app.close_cycles(_naive(w)),
        InvalidTimestamp,
        "time-zone aware",
    ),
    Case(
        "close periods in the future",
        lambda w: w.app.close_cycles(_future(w)),
        InvalidTimestamp,
        "in the future",
    ),
    Case(
        "pay periods in the future",
        lambda w: w.app.create_payouts(_future(w)),
        InvalidTimestamp,
        "in the future",
    ),
    Case(
        "release as of the future",
        lambda w: w.app.prepare_release(_future(w)),
        InvalidTimestamp,
        "in the future",
    ),
    Case(
        "query by naive period",
        lambda w: w.app.query_statements(StatementFilter(tenant_id=TENANT, period_from=_naive(w))),
        InvalidTimestamp,
        "time-zone aware",
    ),
    # unknown accounts and tenants, cross-tenant lookups
    Case("unknown shop", _record(shop_id="nobody"), NotFound, "nobody"),
    Case("unknown tenant", _record(tenant_id="tenant-z"), NotFound, "tenant-z"),
    Case(
        "unknown channel", _fund(money("5.00", "USD"), channel="bank-z"), UnknownChannel, "bank-z"
    ),
    Case(
        "another tenant's account",
        lambda w: w.app.get_account(TENANT, w.ids["other_account"]),
        NotFound,
        "not found",
    ),
    Case(
        "another tenant's statement",
        lambda w: w.app.get_statement(TENANT, w.ids["other_statement"]),
        NotFound,
        "not found",
    ),
    Case(
        "another tenant's payout",
        lambda w: w.app.get_payout(OTHER, w.ids["paid"]),
        NotFound,
        "not found",
    ),
    Case(
        "hold another tenant's account",
        lambda w: w.app.hold_account(TENANT, w.ids["other_account"]),
        NotFound,
        "not found",
    ),
    Case(
        "approve another tenant's payout",
        lambda w: w.app.approve_payout(
            ApprovePayout(tenant_id=OTHER, payout_id=w.ids["manual"], approved_by="ops")
        ),
        NotFound,
        "not found",
    ),
    Case(
        "another tenant's release",
        lambda w: w.app.release(OTHER, w.ids["summary"]),
        NotFound,
        "not found",
    ),
    Case(
        "instant payout from another tenant's account",
        lambda w: w.app.instant_payout(
            InstantPayout(
                tenant_id=TENANT,
                account_id=w.ids["other_account"],
                amount=money("1.00", "USD"),
                key="cross",
            )
        ),
        NotFound,
        "not found",
    ),
    # conflicting replays
    Case(
        "replay with another amount",
        lambda w: w.app.record_billing_item(w.item(key="s1-sale", amount=money("31.00", "USD"))),
        IdempotencyConflict,
        "s1-sale",
    ),
    Case(
        "replay for another order",
        lambda w: w.app.record_billing_item(w.item(key="s1-sale", order_id="elsewhere")),
        IdempotencyConflict,
        "s1-sale",
    ),
    Case(
        "one key twice in a batch",
        lambda w: w.app.record_billing_items(
            [w.item(key="twice"), w.item(key="twice", amount=money("11.00", "USD"))]
        ),
        IdempotencyConflict,
        "twice",
    ),
    Case(
        "a bad item spoils its batch",
        lambda w: w.app.record_billing_items(
            [w.item(key="fine-1"), w.item(key="fine-2", amount=money("-1.00", "USD"))]
        ),
        InvalidAmount,
        "positive",
    ),
    Case(
        "funding reference reused for another amount",
        lambda w: _fund(money("5.00", "USD"), "wire-1")(w),
        IdempotencyConflict,
        "wire-1",
    ),
    # illegal transitions requested by operators
    Case(
        "approve a payout that needs no approval",
        lambda w: w.app.approve_payout(
            ApprovePayout(tenant_id=TENANT, payout_id=w.ids["created"], approved_by="ops")
        ),
        InvalidTransition,
        "approve",
    ),
    Case(
        "approve a paid payout",
        lambda w: w.app.approve_payout(
            ApprovePayout(tenant_id=TENANT, payout_id=w.ids["paid"], approved_by="ops")
        ),
        InvalidTransition,
        "paid",
    ),
    Case(
        "cancel a paid payout",
        lambda w: w.app.cancel_payout(TENANT, w.ids["paid"], "ops"),
        InvalidTransition,
        "paid",
    ),
    Case(
        "mark a created payout paid",
        lambda w: w.app.record_payout_paid(TENANT, w.ids["created"]),
        InvalidTransition,
        "created",
    ),
    Case(
        "return a payout never paid",
        lambda w: w.app.record_payout_returned(TENANT, w.ids["created"]),
        InvalidTransition,
        "created",
    ),
    Case(
        "fail a paid payout",
        lambda w: w.app.record_payout_failed(TENANT, w.ids["paid"], retryable=True),
        InvalidTransition,
        "paid",
    ),
    Case(
        "release an unfunded summary",
        lambda w: w.app.release(TENANT, w.ids["summary"]),
        InvalidTransition,
        "created",
    ),
    Case(
        "instant payout above the balance",
        _instant(money("100000.00", "USD")),
        InsufficientBalance,
        "available",
    ),
    Case(
        "freeze above the balance",
        lambda w: w.app.freeze(TENANT, w.ids["s1"], money("100000.00", "USD"), "freeze-bad"),
        InsufficientBalance,
        "available",
    ),
    Case(
        "confirm an unknown freeze",
        lambda w: w.app.confirm_freeze(TENANT, "no-freeze"),
        NotFound,
        "no-freeze",
    ),
    # queries
    Case(
        "page of zero",
        lambda w: w.app.query_items(ItemFilter(tenant_id=TENANT), limit=0),
        ValidationError,
        "limit",
    ),
    Case(
        "page too large",
        lambda w: w.app.query_payouts(PayoutFilter(tenant_id=TENANT), limit=10**6),
        ValidationError,
        "limit",
    ),
    Case(
        "too many ids",
        lambda w: w.app.get_items(TENANT, [f"id-{n}" for n in range(1001)]),
        ValidationError,
        "at most 1000",
    ),
    Case(
        "query with an empty tenant",
        lambda w: w.app.query_items(ItemFilter(tenant_id="")),
        InvalidIdentifier,
        "tenant_id",
    ),
    # fees, gross settlement and collections
    Case("unknown settlement mode", _open(settlement_mode="both"), ValidationError, "mode"),
    Case(
        "switch to an unknown mode",
        lambda w: w.app.set_settlement_mode(TENANT, w.ids["s1"], "sometimes"),
        ValidationError,
        "sometimes",
    ),
    Case(
        "negative fee refund",
        _record(kind=ItemKind.FEE_REFUND, amount=money("-1.00", "USD")),
        InvalidAmount,
        "positive",
    ),
    Case(
        "payment for an unknown collection",
        lambda w: w.app.record_collection(TENANT, "no-such", money("1.00", "USD"), "bank-1"),
        NotFound,
        "collection",
    ),
    Case(
        "negative collection payment",
        lambda w: w.app.record_collection(TENANT, "no-such", money("-1.00", "USD"), "bank-1"),
        InvalidAmount,
        "positive",
    ),
    Case(
        "offset without a reason",
        lambda w: w.app.offset_collection(TENANT, "no-such", "ops", ""),
        ValidationError,
        "reason",
    ),
    Case(
        "pricing without an engine",
        lambda w: w.app.settle_order(object(), object(), 0),  # type: ignore[arg-type]
        ValidationError,
        "FeeEngine",
    ),
    Case(
        "fee config with an unknown key",
        lambda w: engine_from_config({"schedules": [], "rules": [], "routes": [], "x": 1}),
        InvalidRule,
        "unknown keys",
    ),
    # callbacks
    Case(
        "callback to an unknown channel",
        lambda w: w.app.handle_callback("bank-z", b"{}", {}),
        UnknownChannel,
        "bank-z",
    ),
    Case(
        "unsigned callback",
        lambda w: w.app.handle_callback("bank-a", b"{}", {}),
        BadSignature,
        "header",
    ),
]


def test_the_catalogue_is_big_and_has_no_duplicate_names() -> None:
    """At least 40 cases, each named once (the names are the test ids)."""
    names = [case.name for case in CASES]
    assert len(names) >= 40
    assert len(names) == len(set(names))


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One store per backend, shared by every case (a case that stores anything fails)."""
    with empty_store(request.param, tmp_path_factory.mktemp("bad-input")) as engine:
        yield _world(ChannelMarket(store_build(engine)), engine)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_a_typed_error_and_nothing_stored(
    world: World, case: Case
) -> None:
    """The case's error, a message saying what was wrong, and the same rows as before."""
    before = store_rows(world.app, world.engine)
    with pytest.raises(case.error) as raised:
        case.send(world)
    assert case.says.lower() in str(raised.value).lower(), str(raised.value)
    assert store_rows(world.app, world.engine) == before
