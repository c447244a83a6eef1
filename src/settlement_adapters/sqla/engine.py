"""Engines for the supported backends, with the settings settlement relies on."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError

from settlement_adapters.sqla.tables import metadata

# A pooled connection unused for longer than this is pinged before it is handed
# out; one in steady use is not, so a command does not pay a round trip for it.
PING_IDLE_SECONDS = 1.0


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for a URL; SQLite gets WAL, a busy timeout and one writer at a time.

    On a server, a connection idle in the pool is pinged before use (stale ones
    are replaced); pass `pool_pre_ping=True` to ping every checkout instead. With
    psycopg, statements are not prepared server-side (see _plan_every_statement).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **options)
        _configure_sqlite(engine)
        return engine
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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=10000",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
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
