"""Engines and the unit of work's transaction: pooled connections, BEGIN, driver reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import (
    SqlAlchemyUnitOfWork,
    create_schema,
    make_engine,
    tables,
)
from settlement_adapters.sqla.reads import fetch_all, fetch_values
from settlement_adapters.sqla.repositories import _covering, _matching, _neighbours, _read
from settlement_adapters.sqla.scratch import SERVER_URLS
from settlement_adapters.testing import empty_store
from settlement_core.errors import ConcurrencyConflict
from settlement_core.model import ItemKind
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import Marketplace

IDLE_SINCE = "settlement_idle_since"

SERVER_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


@pytest.fixture(params=["postgresql", "mysql"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine]]:
    """A server backend's name and an engine made by make_engine (default pool settings)."""
    engine = make_engine(SERVER_URLS[request.param])
    yield request.param, engine
    engine.dispose()


def _server_id(engine: Engine, backend: str) -> tuple[int, dict[Any, Any]]:
    with engine.connect() as conn:
        return int(conn.execute(text(SERVER_ID[backend])).scalar_one()), conn.info


def _kill(backend: str, server_id: int) -> None:
    killer = make_engine(SERVER_URLS[backend], pool_pre_ping=True)
    try:
        with killer.connect() as conn:
            conn.execute(text(KILL[backend].format(server_id)))
            conn.commit()
    finally:
        killer.dispose()


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_in_steady_use_is_not_pinged(
    server: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Back-to-back checkouts skip the ping; one idle past the limit gets it."""
    backend, engine = server
    pings = _count_pings(engine, monkeypatch)
    first, info = _server_id(engine, backend)
    for _ in range(5):
        assert _server_id(engine, backend)[0] == first
    assert pings == []
    info[IDLE_SINCE] -= 3600
    assert _server_id(engine, backend)[0] == first
    assert pings == [1]


def test_an_idle_connection_the_server_closed_is_replaced(server: tuple[str, Engine]) -> None:
    """The server dropped a pooled connection while idle: the next checkout gets a live one."""
    backend, engine = server
    dead, info = _server_id(engine, backend)
    _kill(backend, dead)
    info[IDLE_SINCE] -= 3600
    fresh, _ = _server_id(engine, backend)
    assert fresh != dead


def test_an_explicit_pre_ping_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """pool_pre_ping=True pings every checkout, as SQLAlchemy documents."""
    engine = make_engine(SERVER_URLS["postgresql"], pool_pre_ping=True)
    try:
        pings = _count_pings(engine, monkeypatch)
        for _ in range(3):
            _server_id(engine, "postgresql")
        assert len(pings) >= 2  # the first checkout makes a new connection: no ping
    finally:
        engine.dispose()


@pytest.mark.parametrize("options", [{}, {"pool_pre_ping": True}])
def test_postgresql_statements_are_planned_each_time(options: dict[str, Any]) -> None:
    """A statement run many times leaves no server-side prepared plan behind."""
    engine = make_engine(SERVER_URLS["postgresql"], **options)
    try:
        with engine.connect() as conn:
            for n in range(10):
                conn.execute(text("SELECT :n + 1"), {"n": n})
            held = conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            assert held.scalar_one() == 0
    finally:
        engine.dispose()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A SQLite engine that fails at once on a lock instead of waiting ten seconds."""
    path = tmp_path / "db.sqlite"
    engine = make_engine(f"sqlite:///{path}", sqlite_pragmas={"busy_timeout": 0})
    create_schema(engine)
    yield engine, path
    engine.dispose()


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_connections_get_the_library_settings(tmp_path: Path) -> None:
    """WAL, foreign keys, and a page cache and checkpoint sized for batches of items."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert _pragma(engine, "journal_mode") == "wal"
        assert _pragma(engine, "foreign_keys") == 1
        assert _pragma(engine, "cache_size") == -65536
        assert _pragma(engine, "wal_autocheckpoint") == 16384
    finally:
        engine.dispose()


def test_a_host_replaces_one_sqlite_setting_and_keeps_the_rest(tmp_path: Path) -> None:
    """`sqlite_pragmas` overrides the named settings only."""
    engine = make_engine(
        f"sqlite:///{tmp_path / 'db.sqlite'}", sqlite_pragmas={"cache_size": -2000}
    )
    try:
        assert _pragma(engine, "cache_size") == -2000
        assert _pragma(engine, "wal_autocheckpoint") == 16384
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "pragmas", [{"cache_size; DROP TABLE x": 1}, {"cache_size": "1; DROP TABLE x"}]
)
def test_a_sqlite_setting_that_is_not_a_plain_pragma_is_refused(
    tmp_path: Path, pragmas: dict[str, object]
) -> None:
    """Names and values are spliced into PRAGMA statements, so anything else is refused."""
    with pytest.raises(ValueError, match="not a SQLite pragma"):
        make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", sqlite_pragmas=pragmas)  # type: ignore[arg-type]


def test_sqlite_settings_for_a_server_are_refused() -> None:
    """A server URL with SQLite settings is a mistake, said at once."""
    with pytest.raises(ValueError, match="SQLite only"):
        make_engine(SERVER_URLS["postgresql"], sqlite_pragmas={"cache_size": -2000})


def test_a_locked_sqlite_database_at_begin_is_a_lost_race(lite: tuple[Engine, Path]) -> None:
    """Another writer holds the lock: BEGIN IMMEDIATE fails retryably and frees its connection."""
    engine, path = lite
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(ConcurrencyConflict), SqlAlchemyUnitOfWork(engine):
            pytest.fail("the transaction began while another writer held the lock")
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        holder.execute("ROLLBACK")
        with SqlAlchemyUnitOfWork(engine) as uow:
            assert uow.accounts.find_by_shop("t", "nobody") is None
    finally:
        holder.close()


def test_a_sqlite_transaction_holds_the_write_lock_from_begin(lite: tuple[Engine, Path]) -> None:
    """BEGIN IMMEDIATE is still taken when the unit of work opens, before any write."""
    engine, path = lite
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with (
            SqlAlchemyUnitOfWork(engine),
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty schema on one SQL backend."""
    with empty_store(request.param, tmp_path) as found:
        assert found is not None
        yield found


def _filled(engine: Engine) -> None:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx)

    market = Marketplace(build)
    market.shop("s1")
    market.shop("s2", rule="weekly")
    for day in range(9):
        market.order("s1", f"{day + 1}.25")
        market.order("s2", "7.10", "EUR")
        market.order("s1", "3.00", "EUR")  # a second open series on one account
        if day % 4 == 0:
            market.order("s1", "-2.00", kind=ItemKind.REFUND)
        market.advance(days=1)
        market.run_jobs()  # closes statements: open and closed ones are read back
    market.order("s1", "1.00")  # today's statements stay open, in two currencies
    market.order("s1", "1.00", "EUR")


def test_driver_reads_give_what_core_reads_give(engine: Engine) -> None:
    """Every account, statement and item row reads back equal to a Core read of it."""
    _filled(engine)
    checked = 0
    with engine.connect() as conn:
        for table in (tables.accounts, tables.statements, tables.billing_items):
            by_id = _matching(table, ("id",), False)
            for core in conn.execute(_read(table)).mappings():
                assert fetch_all(conn, by_id, {"p_id": core["id"]}) == [dict(core)]
                checked += 1
        statuses = set()
        for core in conn.execute(select(tables.statements)).mappings():
            statuses.add(core["status"])
            at = {
                "account_id": core["account_id"],
                "currency": core["currency"],
                "instant": core["period_start"],
            }
            assert fetch_all(conn, _covering(), at) == [dict(core)]
            assert fetch_values(conn, _neighbours(), at) == [
                tuple(conn.execute(_neighbours(), at).one())
            ]
    assert "open" in statuses and len(statuses) > 1
    assert checked > 30


def test_lookups_are_statements_built_once() -> None:
    """Driver reads cache their plans by statement identity: a lookup must reuse its statement."""
    for table in (tables.accounts, tables.statements, tables.billing_items):
        assert _matching(table, ("id",), False) is _matching(table, ("id",), False)
        assert _read(table) is _read(table)


def test_driver_reads_refuse_a_naive_instant(engine: Engine) -> None:
    """A naive datetime is refused on the way in, as the column type refuses it in Core."""
    with engine.connect() as conn, pytest.raises(ValueError, match="naive"):
        fetch_all(
            conn,
            _covering(),
            {"account_id": "a", "currency": "USD", "instant": datetime(2026, 1, 1)},
        )


def test_a_shop_lookup_brings_its_open_statements(engine: Engine) -> None:
    """After find_by_shop, open statements are found without a query; closed ones still are."""
    _filled(engine)
    with engine.connect() as conn:
        statements = conn.execute(select(tables.statements)).mappings().all()
        accounts = {a["id"]: a for a in conn.execute(select(tables.accounts)).mappings()}
    queries: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        queries.append(statement)

    checked = {"open": 0, "closed": 0}
    for account_id, account in accounts.items():
        mine = [s for s in statements if s["account_id"] == account_id]
        with SqlAlchemyUnitOfWork(engine) as uow:
            found = uow.accounts.find_by_shop(account["tenant_id"], account["shop_id"])
            assert found is not None and found.id == account_id
            for row in sorted(mine, key=lambda s: s["status"] != "open"):
                queries.clear()
                got = uow.statements.find_covering(account_id, row["currency"], row["period_start"])
                assert got is not None and got.id == row["id"]
                assert got.status.value == row["status"]
                opened = row["status"] == "open"
                assert len(queries) == (0 if opened else 1)
                checked["open" if opened else "closed"] += 1
    event.remove(engine, "before_cursor_execute", _seen)
    assert checked["open"] >= 2 and checked["closed"] >= 2
