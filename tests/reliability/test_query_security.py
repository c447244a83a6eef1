"""Queries built from user input never inject SQL and never read another tenant's rows (R-SEC-2).

Hypothesis puts hostile strings (classic injection payloads, LIKE wildcards,
quotes, NUL and control characters, case and width variants of real tenant
ids, random Unicode) into every string field of ItemFilter, StatementFilter
and PayoutFilter, into the lookups by id and into page cursors, on memory,
SQLite, PostgreSQL and MariaDB. Each request either raises a typed error or
returns only rows of the tenant it named that match the filter exactly; and
the store's rows are the same afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from settlement_adapters.snapshots import store_rows
from settlement_adapters.sqla import tables
from settlement_adapters.sqla.migrate import upgrade
from settlement_adapters.sqla.scratch import scratch_schema
from settlement_adapters.testing import ChannelMarket, empty_store, examples, store_build
from settlement_core.errors import SettlementError
from settlement_core.model import ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import money
from settlement_core.ports import ItemFilter, PayoutFilter, StatementFilter
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT

OTHER = "tenant-b"
PAYLOADS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "') OR ('1'='1",
    "'; DROP TABLE settlement_billing_items; --",
    "1; DELETE FROM settlement_payouts",
    "' UNION SELECT * FROM settlement_accounts --",
    "%",
    "_",
    "%%",
    "tenant-%",
    "tenant_a",
    "\\",
    "\\'",
    '"',
    "`",
    "*",
    "NULL",
    "\x00",
    "a\x00b",
    OTHER,
    f"{TENANT}' OR tenant_id='{OTHER}",
    TENANT.upper(),
    TENANT.title(),
    f"{TENANT} ",
    f" {TENANT}",
    f"{TENANT}\n",
    "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in TENANT),  # full width
    "tenant-\u0430",  # a Cyrillic a
    "s1",
    "S1",
    "USD",
    "usd",
]
hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), st.sampled_from(PAYLOADS)),
    st.text(max_size=40),
    st.text(st.characters(codec="ascii"), max_size=300),
)

FILTERS: dict[str, tuple[type[Any], Callable[[Settlement], Callable[..., Any]]]] = {
    "items": (ItemFilter, lambda app: app.query_items),
    "statements": (StatementFilter, lambda app: app.query_statements),
    "payouts": (PayoutFilter, lambda app: app.query_payouts),
}
FIELDS = [
    (kind, f.name)
    for kind, (cls, _) in FILTERS.items()
    for f in attrs.fields(cls)
    if f.type in ("str", "str | None")
]


def _populate(market: ChannelMarket) -> None:
    """Two tenants, each with accounts, items, statements and payouts."""
    market.payouts_due({"s1": "25.00", "s2": "40.00"})
    market.order("s1", "3.00")
    app = market.app
    for tenant in (OTHER, TENANT.upper()):
        app.get_or_create_account(OpenAccount(tenant_id=tenant, shop_id="s1"))
        app.record_billing_item(
            RecordBillingItem(
                tenant_id=tenant,
                shop_id="s1",
                key="k1",
                order_id="order-1",
                kind=ItemKind.SALE,
                amount=money("9.00", "USD"),
                occurred_at=market.clock.now() - market.clock.now().resolution,
            )
        )
    market.advance(days=1)
    market.run_jobs()


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql", "mysql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ChannelMarket, Engine | None]]:
    """One populated store per backend for every example."""
    with empty_store(request.param, tmp_path_factory.mktemp("security")) as engine:
        market = ChannelMarket(store_build(engine))
        _populate(market)
        yield market, engine


def _check_query(app: Settlement, kind: str, where: Any, after: str | None = None) -> None:
    """A typed error, or only the named tenant's rows that match every field given."""
    _, query = FILTERS[kind]
    try:
        page = query(app)(where, after=after)
    except SettlementError:
        return
    wanted = {k: v for k, v in attrs.asdict(where, recurse=False).items() if v is not None}
    for row in page.items:
        for name, value in wanted.items():
            assert getattr(row, name) == value, (kind, name, value, row)


SETTINGS = settings(
    max_examples=examples(40),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(data=st.data(), value=hostile)
def test_hostile_filter_values_read_nothing_they_should_not(
    store: tuple[ChannelMarket, Engine | None], data: st.DataObject, value: str
) -> None:
    """Any string in any filter field, the tenant's included, and as a page cursor."""
    market, engine = store
    app = market.app
    before = store_rows(app, engine)
    kind, name = data.draw(st.sampled_from(FIELDS))
    cls, _ = FILTERS[kind]
    tenant = value if name == "tenant_id" else TENANT
    where = cls(**{"tenant_id": tenant, **({} if name == "tenant_id" else {name: value})})
    _check_query(app, kind, where)
    _check_query(app, kind, cls(tenant_id=TENANT), after=value)
    assert store_rows(app, engine) == before


@SETTINGS
@given(value=hostile, tenant=st.one_of(st.just(TENANT), hostile))
def test_hostile_ids_in_lookups_find_only_the_tenants_own(
    store: tuple[ChannelMarket, Engine | None], value: str, tenant: str
) -> None:
    """Lookups by id or shop with hostile strings: a typed error or the tenant's own object."""
    market, engine = store
    app = market.app
    before = store_rows(app, engine)
    lookups: list[Callable[[], Any]] = [
        lambda: app.get_account(tenant, value),
        lambda: app.get_statement(tenant, value),
        lambda: app.get_payout(tenant, value),
        lambda: app.get_release(tenant, value),
        lambda: app.get_discrepancy(tenant, value),
        lambda: app.channel_events(tenant, value),
        lambda: app.balance(tenant, value),
        lambda: app.find_account(tenant, value),
        lambda: app.get_items(tenant, [value]),
        lambda: app.trace_order(tenant, value),
    ]
    for lookup in lookups:
        try:
            found = lookup()
        except SettlementError:
            continue
        for obj in found if isinstance(found, list) else [found]:
            owner = getattr(obj, "tenant_id", tenant)
            assert owner == tenant, (obj, tenant)
    assert store_rows(app, engine) == before


@pytest.mark.parametrize("how", ["created", "migrated"])
def test_every_mariadb_table_is_binary_collated(how: str) -> None:
    """Created from the metadata or by the migrations: no table compares text loosely."""
    with scratch_schema("mysql", tables=how == "created") as scratch:
        if how == "migrated":
            upgrade(scratch.engine)
        with scratch.engine.connect() as conn:
            found: dict[str, str] = dict(
                conn.execute(
                    text(
                        "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES"
                        " WHERE TABLE_SCHEMA = :schema AND TABLE_NAME LIKE 'settlement%'"
                    ),
                    {"schema": scratch.schema},
                ).all()
            )
    assert set(found) == set(tables.metadata.tables)
    assert set(found.values()) == {tables.MYSQL_COLLATION}


@pytest.mark.parametrize("how", ["created", "migrated"])
def test_mariadb_compares_tenant_ids_and_keys_byte_for_byte(how: str) -> None:
    """Tenant "TENANT-A" is not "tenant-a", and key "K1" is not "k1", on a migrated database too.

    Found by the hostile-string suite: with the server's default case-insensitive
    collation, a tenant id differing only in case read the other tenant's rows.
    """
    with scratch_schema("mysql", tables=how == "created") as scratch:
        if how == "migrated":
            upgrade(scratch.engine)
        market = ChannelMarket(store_build(scratch.engine))
        app = market.app
        lower = app.get_or_create_account(OpenAccount(tenant_id="acme", shop_id="s")).account
        upper = app.get_or_create_account(OpenAccount(tenant_id="ACME", shop_id="s")).account
        assert lower.id != upper.id
        for key, amount in (("k1", "1.00"), ("K1", "2.00")):
            receipt = app.record_billing_item(
                RecordBillingItem(
                    tenant_id="acme",
                    shop_id="s",
                    key=key,
                    order_id="o",
                    kind=ItemKind.SALE,
                    amount=money(amount, "USD"),
                    occurred_at=market.clock.now(),
                )
            )
            assert not receipt.replayed
        assert app.query_items(ItemFilter(tenant_id="ACME")).items == []
        assert app.query_items(ItemFilter(tenant_id="acme", order_id="O")).items == []
        assert len(app.query_items(ItemFilter(tenant_id="acme")).items) == 2
