"""Engines for the supported backends, with the settings settlement relies on."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError

from settlement_adapters.sqla.tables import metadata

# A pooled connection unused for longer than this is pinged before it is handed
# out; one in steady use is not, so a command does not pay a round trip for it.
PING_IDLE_SECONDS = 1.0

# What every SQLite connection is set to (`make_engine(..., sqlite_pragmas=...)` overrides).
SQLITE_PRAGMAS: Mapping[str, str] = MappingProxyType(
    {
        # Readers never wait for the writer; a commit is not synced, a checkpoint is.
        "journal_mode": "WAL",
        "synchronous": "NORMAL",
        "busy_timeout": "10000",
        "foreign_keys": "ON",
        # 64 MiB of page cache (negative means KiB) instead of 2 MiB: a batch of items
        # lands on leaf pages spread over every index of the items, and with the default
        # most of them were read back from the file.
        "cache_size": "-65536",
        # Checkpoint after 16,384 pages (64 MiB) of log instead of 1,000: every checkpoint
        # syncs the file, and one batch dirties thousands of pages, so the default synced
        # after every commit.
        "wal_autocheckpoint": "16384",
    }
)


def make_engine(
    url: str, *, sqlite_pragmas: Mapping[str, str | int] | None = None, **options: Any
) -> Engine:
    """An engine for a URL; SQLite gets WAL, a busy timeout and one writer at a time.

    SQLite connections are set up with SQLITE_PRAGMAS, with `sqlite_pragmas`
    replacing or adding any of them. On a server, a connection idle in the pool
    is pinged before use (stale ones are replaced); pass `pool_pre_ping=True` to
    ping every checkout instead. With psycopg, statements are not prepared
    server-side (see _plan_every_statement).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **options)
        _configure_sqlite(engine, {**SQLITE_PRAGMAS, **(sqlite_pragmas or {})})
        return engine
    if sqlite_pragmas:
        raise ValueError(f"sqlite_pragmas apply to SQLite only, not {parsed.get_backend_name()}")
    engine = create_engine(url, **options)
    if engine.dialect.driver == "psycopg":
        _plan_every_statement(engine)
    if "pool_pre_ping" not in options:
        _ping_when_idle(engine, PING_IDLE_SECONDS)
    return engine


def _plan_every_statement(engine: Engine) -> None:
    # psycopg prepares a statement run five times, and PostgreSQL may then keep a
    # generic plan made while the tables were still small: a sequential scan that
    # made ingest slow down as the items table grew (about 5,000 items/s at the
    # start, 700 after 40,000 items). Unprepared statements are planned against
    # the tables as they are, which kept the rate flat.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.prepare_threshold = None


def sqlite_pragma_statements(pragmas: Mapping[str, str | int] = SQLITE_PRAGMAS) -> list[str]:
    """The PRAGMA statements that set a SQLite connection up (raw drivers use them too)."""
    for name, value in pragmas.items():
        if not name.isidentifier() or not str(value).replace("-", "", 1).isalnum():
            raise ValueError(f"not a SQLite pragma setting: {name}={value!r}")
    return [f"PRAGMA {name}={value}" for name, value in pragmas.items()]


def _configure_sqlite(engine: Engine, pragmas: Mapping[str, str | int]) -> None:
    statements = sqlite_pragma_statements(pragmas)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()

    dbapi = engine.dialect.loaded_dbapi

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # One writer at a time, taken at the start: no deadlocks between upgraders.
        # On the driver's connection: the statement needs no result or context, and
        # it runs once per transaction.
        raw = connection.connection.driver_connection
        try:
            raw.execute("BEGIN IMMEDIATE")
        except dbapi.Error as exc:
            # The error Core would raise, so a busy database reads as contention.
            raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, dbapi.Error) from exc


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["settlement_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("settlement_idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("a pooled connection was closed by the server")


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet (tests and quick starts)."""
    metadata.create_all(engine)
