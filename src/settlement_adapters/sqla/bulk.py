"""Bulk writes straight on the driver's cursor, for the hot paths of ingest.

SQLAlchemy's executemany spends most of its time per row: building a parameter
dict from the compiled statement, then running every column's bind processor
through generic machinery. Here the INSERT text and the processors of each
column are worked out once per (dialect, table, columns), and a row becomes a
tuple in one pass. What is stored is the same: the same column types convert
the values (see `copy.py`, which does the same for PostgreSQL's COPY), and a
driver error surfaces as the SQLAlchemy error the Core statement would raise,
so lost races stay retryable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timezone
from functools import cache
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

from settlement_adapters.sqla.types import JsonText, UtcDateTime

Processor = Callable[[Any], Any] | None


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys, in the same order) into `table`."""
    insert_values(conn, table, tuple(rows[0]), [row.values() for row in rows])


def insert_values(
    conn: Connection, table: Table, columns: tuple[str, ...], lines: Sequence[Iterable[Any]]
) -> None:
    """INSERT `lines` (each the values of `columns`, in order) in the open transaction."""
    if not lines:
        return
    plan = _plan(conn.dialect, _schema(conn, table), table, columns)
    run_many(conn, plan.sql, plan.converted(lines))


def converted(processors: Sequence[Processor], lines: Sequence[Iterable[Any]]) -> list[Any]:
    """The lines as tuples, each column through its processor.

    Column by column: one `map` per converted column runs the processor without
    a Python loop per value, and a column that repeats few distinct instants (a
    batch shares its clock readings) converts each distinct one once.
    """
    if not lines or not any(processors):
        return [tuple(line) for line in lines]
    columns: list[Iterable[Any]] = list(zip(*lines, strict=True))
    for at, process in enumerate(processors):
        if process is not None:
            columns[at] = _mapped(process, columns[at])  # type: ignore[arg-type]
    return list(zip(*columns, strict=True))


def converted_rows(
    converting: Sequence[tuple[int, Callable[[Any], Any]]], rows: Iterable[Iterable[Any]]
) -> list[tuple[Any, ...]]:
    """The rows as tuples, row by row, each (position, processor) applied."""
    if not converting:
        return [tuple(row) for row in rows]
    found = []
    for row in rows:
        values = list(row)
        for at, process in converting:
            values[at] = process(values[at])
        found.append(tuple(values))
    return found


def _mapped(process: Callable[[Any], Any], column: tuple[Any, ...]) -> Iterable[Any]:
    if process in _SAME_FOR_EQUAL and len(column) > 1:
        distinct = dict.fromkeys(column)
        # Only fixed-offset zones: in one zone with folds (DST), two equal instants
        # are equal wall times, and may still be an hour apart in UTC.
        if 2 * len(distinct) <= len(column) and all(
            value is None or type(value.tzinfo) is timezone for value in distinct
        ):
            once = {value: process(value) for value in distinct}
            return map(once.__getitem__, column)
    return map(process, column)


def execute_many(conn: Connection, statement: Executable, rows: Sequence[dict[str, Any]]) -> int:
    """A Core statement (built once, with bind parameters) run for each row; rows changed.

    The statement is compiled once per (dialect, schema map); a parameter a row
    does not give takes the value bound in the statement itself.
    """
    plan = _compiled(conn.dialect, schema_translation(conn), statement)
    return run_many(conn, plan.sql, [plan.parameters(row) for row in rows])


def run_many(conn: Connection, sql: str, values: Sequence[Any]) -> int:
    """executemany on the driver's cursor; driver errors become SQLAlchemy's; rows changed.

    One row goes as a plain execute, as Core sends a one-row list: the drivers'
    executemany costs more (psycopg enters pipeline mode, PyMySQL parses the
    statement) for the same work.
    """
    if len(values) == 1:
        return run_one(conn, sql, values[0])
    return _run(conn, sql, values, True)


def run_one(conn: Connection, sql: str, parameters: Sequence[Any]) -> int:
    """One statement on the driver's cursor, errors and events as `run_many`; rows changed."""
    return _run(conn, sql, parameters, False)


def _run(conn: Connection, sql: str, parameters: Any, many: bool) -> int:
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    run = cursor.executemany if many else cursor.execute
    try:
        if has_events(conn):
            # The engine's cursor events still fire, so a host's instrumentation (and
            # the fault injection of the tests) sees these statements like any other.
            dispatch = conn.dispatch
            dispatch.before_cursor_execute(conn, cursor, sql, parameters, None, many)
            run(sql, parameters)
            dispatch.after_cursor_execute(conn, cursor, sql, parameters, None, many)
        else:
            run(sql, parameters)
        return int(cursor.rowcount)
    # Looked up only when something is raised: the except clause is evaluated lazily.
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def has_events(conn: Connection) -> bool:
    """Whether a cursor event of the connection has a listener now.

    Checked before firing: without a listener a statement skips the dispatch
    machinery (a joined listener built per connection, then an empty loop),
    several microseconds per statement. The engine's own dispatch answers
    unless the connection itself was listened to: it lives as long as the
    engine, and sees listeners on the engine and its class, added or removed.
    """
    if conn._has_events:
        dispatch: Any = conn.dispatch
    elif conn.engine._has_events:  # any event, e.g. SQLite's BEGIN IMMEDIATE on "begin"
        dispatch = conn.engine.dispatch
    else:
        return False
    return bool(dispatch.before_cursor_execute) or bool(dispatch.after_cursor_execute)


def schema_translation(conn: Connection) -> tuple[tuple[str | None, str | None], ...]:
    """The connection's schema map as a hashable key for compiled-statement caches."""
    translate = conn.get_execution_options().get("schema_translate_map")
    if not translate:
        return ()
    return tuple(sorted(translate.items(), key=repr))


def _schema(conn: Connection, table: Table) -> str | None:
    # The schema a host (or a scratch schema) maps the table's schema to.
    translate = conn.get_execution_options().get("schema_translate_map")
    if not translate:
        return table.schema
    found: str | None = translate.get(table.schema, table.schema)
    return found


def qualified_name(conn: Connection, table: Table) -> str:
    """The table's quoted name, in the schema a host (or a scratch schema) maps it to."""
    return _quoted(conn.dialect, _schema(conn, table), table.name)


def _quoted(dialect: Dialect, schema: str | None, name: str) -> str:
    preparer = dialect.identifier_preparer
    quoted = preparer.quote(name)
    return quoted if schema is None else f"{preparer.quote_schema(schema)}.{quoted}"


def processor(table: Table, column: str, dialect: Dialect) -> Processor:
    """The bind processor the column's type applies on this dialect, if any."""
    return bind_processor(table.c[column].type, dialect)


def bind_processor(kind: Any, dialect: Dialect) -> Processor:
    """The bind processor a column type applies on this dialect, if any."""
    if isinstance(kind, UtcDateTime | JsonText):
        # The column type's own conversion in one step where its storage type adds
        # none of its own: the ingest path stores several instants and a payload
        # per item.
        if isinstance(kind, UtcDateTime) and dialect.name == "sqlite":
            return sqlite_instant
        if kind.load_dialect_impl(dialect).bind_processor(dialect) is None:
            return _naive_utc if isinstance(kind, UtcDateTime) else _json
    process: Processor = kind.dialect_impl(dialect).bind_processor(dialect)
    return process


def sqlite_instant(value: datetime | None) -> str | None:
    """UtcDateTime's conversion and then SQLite DATETIME's text format, in one step."""
    if value is None:
        return None
    value = _in_utc(value)
    # "+00:00" cut off the text rather than a naive copy made first: one object less.
    return value.isoformat(" ", "microseconds")[:-6]


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database layer")
        return value.astimezone(UTC)
    return value


def _naive_utc(value: datetime | None) -> datetime | None:
    # UtcDateTime's conversion, without the type machinery around it.
    if value is None:
        return None
    value = _in_utc(value)
    return value.replace(tzinfo=None)


# json_text's canonical form (sorted keys, no spaces, ASCII): json.dumps builds its
# encoder anew for every value; this one is built once. The C encoder is what
# json.dumps itself runs when CPython has it (the pure-Python one otherwise).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _c_encoder() -> Callable[[Any, int], Sequence[str]] | None:
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encode: Callable[[Any, int], Sequence[str]] = make(
            None,  # no cycle check: payloads are trees of JSON-ready values
            _ENCODER.default,
            json.encoder.encode_basestring_ascii,
            None,  # indent
            ":",
            ",",
            True,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan, as json.dumps
        )
        sample = {"b": [1, 2.5, None, True], "a": "\u00e9"}
        if "".join(encode(sample, 0)) != _ENCODER.encode(sample):
            return None
    except TypeError:  # another interpreter's signature: the public encoder it is
        return None
    return encode


_C_ENCODE = _c_encoder()


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if _C_ENCODE is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


# Processors whose result depends only on the instant, so equal instants (in
# fixed-offset zones, see `_mapped`) may share one conversion.
_SAME_FOR_EQUAL: frozenset[Callable[[Any], Any]] = frozenset({sqlite_instant, _naive_utc})


def placeholder(dialect: Dialect) -> str:
    """The positional parameter marker of the dialect's driver."""
    return "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"


@frozen
class _Insert:
    """An INSERT's SQL for one dialect and table, and the processors of its columns."""

    sql: str
    processors: tuple[Processor, ...]
    converting: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)

    def converted(self, lines: Sequence[Iterable[Any]]) -> list[Any]:
        """The lines as tuples ready for the driver (see `converted`)."""
        if len(lines) > 2:
            return converted(self.processors, lines)
        # A line or two (a one-item command): row by row, only the converted
        # columns touched, costs less than taking the lines apart column-wise.
        return converted_rows(self.converting, lines)


@cache
def _plan(dialect: Dialect, schema: str | None, table: Table, columns: tuple[str, ...]) -> _Insert:
    preparer = dialect.identifier_preparer
    marks = ", ".join([placeholder(dialect)] * len(columns))
    names = ", ".join(preparer.quote(column) for column in columns)
    sql = f"INSERT INTO {_quoted(dialect, schema, table.name)} ({names}) VALUES ({marks})"
    processors = tuple(processor(table, column, dialect) for column in columns)
    converting = tuple((at, p) for at, p in enumerate(processors) if p is not None)
    return _Insert(sql, processors, converting)


@frozen
class CompiledStatement:
    """A statement's SQL for one dialect, its parameters in order, their processors."""

    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, or None for named style
    # (name, value bound in the statement, processor) in the order the driver takes them.
    slots: tuple[tuple[str, Any, Processor], ...]

    def parameters(self, row: dict[str, Any]) -> Any:
        """The row's parameters as the driver takes them: a tuple in order, or by name."""
        return self.named(row) if self.positional is None else self.ordered(row)

    def ordered(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The row's parameters as a tuple, in the statement's order."""
        assert self.positional is not None
        values = []
        for name, default, process in self.slots:
            value = row.get(name, default)
            values.append(value if process is None else process(value))
        return tuple(values)

    def named(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row's parameters by name."""
        values = {}
        for name, default, process in self.slots:
            value = row.get(name, default)
            values[name] = value if process is None else process(value)
        return values


def compile_statement(
    dialect: Dialect,
    translate: tuple[tuple[str | None, str | None], ...],
    statement: Executable,
) -> CompiledStatement:
    """Compile a Core statement for one dialect and schema map, its binds' processors worked out."""
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, schema_translate_map=dict(translate), render_schema_translate=True
    )
    processors = {name: bind_processor(bind.type, dialect) for name, bind in compiled.binds.items()}
    positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    defaults = dict(compiled.params)
    order = positional if positional is not None else tuple(defaults)
    slots = tuple((name, defaults[name], processors.get(name)) for name in order)
    return CompiledStatement(compiled.string, positional, slots)


_compiled = cache(compile_statement)
