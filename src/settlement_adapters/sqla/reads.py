"""Reads straight on the driver's cursor, for the lookups every command makes.

A Core `execute` of a cached SELECT still spends most of its time around the
driver: an execution context, parameter processing through generic machinery,
a result object and its row proxies. For statements built once (see the
`@cache` builders of `repositories.py`) the SQL text, the order of the
parameters and every column's bind and result processors are worked out once
per (dialect, schema map); a read is then one cursor execute and a loop over
the rows. What comes back is what the Core read gives (the same column types
convert the values), and a driver error surfaces as the SQLAlchemy error the
Core read would raise, so lost races stay retryable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from settlement_adapters.sqla.bulk import (
    CompiledStatement,
    compile_statement,
    converted_rows,
    has_events,
    schema_translation,
)
from settlement_adapters.sqla.types import UtcDateTime

Processor = Callable[[Any], Any]

# Statements are keyed by identity: only statements built once belong here, and
# the bound keeps a caller that builds one per call from growing the cache.
_PLANS = 512


def fetch_all(
    conn: Connection, statement: Select[Any], params: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of a built-once SELECT, as dicts by column key, values as Core reads them."""
    names = _plan(conn.dialect, schema_translation(conn), statement).names
    return [dict(zip(names, row, strict=True)) for row in fetch_values(conn, statement, params)]


def fetch_values(
    conn: Connection, statement: Select[Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of a built-once SELECT as tuples, values as Core reads them."""
    plan = _plan(conn.dialect, schema_translation(conn), statement)
    rows = run_query(conn, plan.statement.sql, plan.statement.parameters(params))
    return converted_rows(plan.converting, rows)


@frozen
class _Plan:
    """A SELECT compiled for one dialect, and how to convert the columns it returns."""

    statement: CompiledStatement
    names: tuple[str, ...]
    converting: tuple[tuple[int, Processor], ...]


def run_query(conn: Connection, sql: str, parameters: Any) -> Sequence[Any]:
    """The rows of one SQL text on the driver's cursor, as the driver returns them."""
    raw = conn.connection.driver_connection
    assert raw is not None
    dbapi = conn.dialect.loaded_dbapi
    cursor = raw.cursor()
    try:
        # The engine's cursor events still fire, so a host's instrumentation sees
        # these reads like any other statement.
        events = has_events(conn)
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, parameters, None, False)
        cursor.execute(sql, parameters)
        rows: Sequence[Any] = cursor.fetchall()
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, parameters, None, False)
        return rows
    except dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, raw, cursor):
            # As Core does: a dead connection is not handed back to the pool.
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, parameters, exc, dbapi.Error) from exc
    finally:
        cursor.close()


@lru_cache(maxsize=_PLANS)
def _plan(
    dialect: Dialect,
    translate: tuple[tuple[str | None, str | None], ...],
    statement: Select[Any],
) -> _Plan:
    names: list[str] = []
    converting = []
    for at, column in enumerate(statement.selected_columns):
        names.append(str(column.key))
        process = _result_processor(column.type, dialect)
        if process is not None:
            converting.append((at, process))
    compiled = compile_statement(dialect, translate, statement)
    return _Plan(compiled, tuple(names), tuple(converting))


def _result_processor(kind: Any, dialect: Dialect) -> Processor | None:
    if isinstance(kind, UtcDateTime) and dialect.name == "sqlite":
        return _sqlite_instant
    found: Processor | None = kind.dialect_impl(dialect).result_processor(dialect, None)
    return found


def _sqlite_instant(value: str | None) -> datetime | None:
    # SQLite DATETIME's text and then UtcDateTime's zone in one step: every read
    # of an item or a statement converts several instants.
    if value is None:
        return None
    return _instant(value)


@lru_cache(maxsize=4096)
def _instant(text: str) -> datetime:
    # A batch's statements share their period bounds, payout dates and payable
    # instants: each distinct text is parsed once (datetimes are immutable).
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
