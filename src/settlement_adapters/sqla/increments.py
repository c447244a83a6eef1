"""Increments of many rows in one statement on PostgreSQL and MySQL/MariaDB.

psycopg's executemany sends one UPDATE (or upsert) per row, and on MySQL each
guarded UPDATE is its own round trip (PyMySQL counts no rows per statement of
an executemany); a batch touching a few hundred statements and balances spends
most of its server time there. Here one statement applies them all: arrays
on PostgreSQL, a CASE per column on MySQL. What is written is what the per-row
statements write: the same increments under the same guard, and the rows are
locked in id order first, as the sorted per-row statements lock them, so two
writers of the same rows still queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from settlement_adapters.sqla.bulk import qualified_name, run_one
from settlement_adapters.sqla.reads import run_query

# Rows per statement on MySQL/MariaDB: each row looks its values up in CASE arms one
# arm after another, so a statement of n rows costs n * n. Funding 100k payouts in
# one statement took 153 s on MariaDB; in statements of this many rows, taken in id
# order (the order the rows are locked in), it stays linear.
CASE_ROWS = 500


def in_id_order(rows: Sequence[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """Rows (id first) sorted by id, in runs of at most CASE_ROWS."""
    ordered = sorted(rows, key=lambda row: row[0])
    return [ordered[at : at + CASE_ROWS] for at in range(0, len(ordered), CASE_ROWS)]


def add_to_open(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    status: str,
) -> int:
    """Add each row's deltas (id, then `columns`) to its row while in `status`; rows changed."""
    name = qualified_name(conn, table)
    if conn.dialect.name != "postgresql":
        return sum(_add_by_cases(conn, name, columns, run, status) for run in in_id_order(rows))
    ids = sorted(row[0] for row in rows)
    lock, update = _open_statements(conn.dialect, name, table, columns)
    # A row not locked is not open: left out, it counts as not changed. Those locked
    # stay open until this transaction commits, so the UPDATE needs no status guard.
    return update_locked(conn, lock, (ids, status), update, rows)


def _add_by_cases(
    conn: Connection,
    name: str,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    status: str,
) -> int:
    # MySQL/MariaDB: no arrays, so the deltas are CASE arms keyed by id (rows in id order).
    quote = conn.dialect.identifier_preparer.quote
    ids = [row[0] for row in rows]
    marks = ", ".join(["%s"] * len(ids))
    run_one(conn, f"SELECT id FROM {name} WHERE id IN ({marks}) ORDER BY id FOR UPDATE", ids)
    arms = " ".join(["WHEN %s THEN %s"] * len(rows))
    sets = ", ".join(f"{quote(c)} = {quote(c)} + CASE id {arms} END" for c in columns)
    parameters: list[Any] = []
    for at in range(1, len(columns) + 1):
        for row in rows:
            parameters += (row[0], row[at])
    sql = f"UPDATE {name} SET {sets} WHERE id IN ({marks}) AND status = %s"
    return run_one(conn, sql, [*parameters, *ids, status])


def upsert_sums(
    conn: Connection, table: Table, keys: tuple[str, str], column: str, rows: Sequence[Any]
) -> None:
    """Add each row's delta (keys, then the delta) to its row, creating missing ones at 0."""
    sql = _upsert(conn.dialect, qualified_name(conn, table), table, keys, column)
    run_one(conn, sql, [list(values) for values in zip(*rows, strict=True)])


def array_parameter(dialect: Dialect, table: Table, column: str) -> str:
    """A parameter marker cast to an array of the column's type (PostgreSQL)."""
    return f"%s::{table.c[column].type.compile(dialect=dialect)}[]"


def lock_by_ids(dialect: Dialect, name: str, table: Table, condition: str = "") -> str:
    """SELECT ... FOR UPDATE of rows by id, in the order the ids are given (PostgreSQL).

    Returns each locked row's id and its ctid, as text. The ids come sorted by
    the caller, in code points: the order the per-row statements lock in. One
    primary-key lookup per id, in a LATERAL subquery the planner cannot turn into
    a scan. As `id = ANY(...)`, on a table never analyzed it read the table, or
    every open statement through the due index, and sorted the rows: 100 ms a
    batch among 160,000 statements. `condition` is appended to the lookup's
    WHERE (" AND status = %s": its parameter follows the ids).
    """
    return (
        f"SELECT found.id, found.ctid::text FROM unnest({array_parameter(dialect, table, 'id')})"
        " WITH ORDINALITY AS wanted(id, at) CROSS JOIN LATERAL"
        f" (SELECT id, ctid FROM {name} WHERE id = wanted.id{condition} LIMIT 1 FOR UPDATE)"
        " AS found ORDER BY wanted.at"
    )


def update_locked(
    conn: Connection,
    lock: str,
    parameters: Sequence[Any],
    update: str,
    rows: Sequence[tuple[Any, ...]],
) -> int:
    """Lock rows (`lock_by_ids`), then UPDATE those locked from arrays; rows changed.

    `rows` hold an id, then the values of the UPDATE's other arrays; its first
    array takes the ctids (see `locked_rows`). A row the lock did not take is
    left out.
    """
    tids = locked_rows(conn, lock, parameters)
    kept = [(tids[row[0]], *row[1:]) for row in rows if row[0] in tids]
    if not kept:
        return 0
    # A tuple: one parameter set (Core reads a list of lists as many, when the SQL is rerun).
    return run_one(conn, update, tuple(list(values) for values in zip(*kept, strict=True)))


def locked_rows(conn: Connection, lock: str, parameters: Sequence[Any]) -> dict[str, str]:
    """Run a `lock_by_ids` statement: the ctid of each row it locked, by id.

    A row locked by this transaction keeps its ctid until this transaction
    changes it, so the UPDATE that follows joins each row by ctid. Joined on
    `t.id = v.id AND t.status = 'open'`, on a table never analyzed, the planner
    read every open statement through a status index and hashed them (134 ms a
    batch at 1M items); by ctid it fetches each row, or scans a small table,
    as the table's size (which it knows without statistics) says.
    """
    return dict(run_query(conn, lock, parameters))


@cache
def _open_statements(
    dialect: Dialect, name: str, table: Table, columns: tuple[str, ...]
) -> tuple[str, str]:
    quote = dialect.identifier_preparer.quote
    lock = lock_by_ids(dialect, name, table, " AND status = %s")
    sets = ", ".join(f"{quote(c)} = t.{quote(c)} + v.{quote(c)}" for c in columns)
    arrays = ", ".join(["%s::tid[]", *(array_parameter(dialect, table, c) for c in columns)])
    names = ", ".join(["row_tid", *(quote(c) for c in columns)])
    update = (
        f"UPDATE {name} AS t SET {sets} FROM unnest({arrays}) AS v({names})"
        " WHERE t.ctid = v.row_tid"
    )
    return lock, update


@cache
def _upsert(dialect: Dialect, name: str, table: Table, keys: tuple[str, str], column: str) -> str:
    quote = dialect.identifier_preparer.quote
    listed = ", ".join(quote(c) for c in (*keys, column))
    arrays = ", ".join(array_parameter(dialect, table, c) for c in (*keys, column))
    conflict = ", ".join(quote(c) for c in keys)
    target = quote(column)
    # Inserted in the order given (sorted by the caller): rows are locked in that order.
    return (
        f"INSERT INTO {name} AS t ({listed}) SELECT {listed} FROM unnest({arrays})"
        f" WITH ORDINALITY AS v({listed}, at) ORDER BY at"
        f" ON CONFLICT ({conflict}) DO UPDATE SET {target} = t.{target} + excluded.{target}"
    )
