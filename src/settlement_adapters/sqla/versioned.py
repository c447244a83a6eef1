"""Guarded updates of many rows in one statement on PostgreSQL and MySQL/MariaDB.

A close or a payout job changes the status of hundreds of statements per
transaction, each under a check of the version (or the status) it was read
at. psycopg's
executemany sends one UPDATE per row, and PyMySQL counts no rows per statement
of an executemany, so on MariaDB each row was its own round trip. Here one
statement writes them all: arrays joined by id on PostgreSQL, a CASE per
column on MySQL. What is written is what the per-row statements write (the
same values through the same column conversions, the same increments, the
guard, the version bump), and the rows are locked in id order first, as the
sorted per-row statements lock them, so two writers still queue instead of
deadlocking. The caller compares the rows changed with the rows given.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from settlement_adapters.sqla.bulk import converted_rows, processor, qualified_name, run_one
from settlement_adapters.sqla.increments import (
    array_parameter,
    in_id_order,
    lock_by_ids,
    update_locked,
)


def update_guarded(
    conn: Connection,
    table: Table,
    guard: str,
    added: tuple[str, ...],
    set_: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> int:
    """Apply each row (id, `guard`'s value, deltas of `added`, values of `set_`); rows changed.

    A row changes only while its `guard` column holds the value given (its
    version, or the status it was read in); its version goes up by one.
    """
    dialect = conn.dialect
    name = qualified_name(conn, table)
    lines = _converted(dialect, table, (guard, *added, *set_), rows)
    if dialect.name == "postgresql":
        ids = sorted(line[0] for line in lines)
        lock, update = _arrays(dialect, name, table, guard, added, set_)
        return update_locked(conn, lock, (ids,), update, lines)
    return sum(_by_cases(conn, name, guard, added, set_, run) for run in in_id_order(lines))


def _converted(
    dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    # Each value column (after the id) through its column's bind processor.
    processors = [(at, processor(table, col, dialect)) for at, col in enumerate(columns, 1)]
    return converted_rows([(at, p) for at, p in processors if p is not None], rows)


@cache
def _arrays(
    dialect: Dialect,
    name: str,
    table: Table,
    guard: str,
    added: tuple[str, ...],
    set_: tuple[str, ...],
) -> tuple[str, str]:
    quote = dialect.identifier_preparer.quote
    lock = lock_by_ids(dialect, name, table)
    # The arrays' columns are named by position: the guard may be a column set too.
    columns = ("id", guard, *added, *set_)
    sets = [f"{quote(c)} = t.{quote(c)} + v.v{at}" for at, c in enumerate(added, 2)]
    sets += [f"{quote(c)} = v.v{at}" for at, c in enumerate(set_, 2 + len(added))]
    sets.append("version = t.version + 1")
    # The rows are found by the ctids their lock returned (see `locked_rows`).
    arrays = ", ".join(["%s::tid[]", *(array_parameter(dialect, table, c) for c in columns[1:])])
    names = ", ".join(f"v{at}" for at in range(len(columns)))
    update = (
        f"UPDATE {name} AS t SET {', '.join(sets)} FROM unnest({arrays}) AS v({names})"
        f" WHERE t.ctid = v.v0 AND t.{quote(guard)} = v.v1"
    )
    return lock, update


def _by_cases(
    conn: Connection,
    name: str,
    guard: str,
    added: tuple[str, ...],
    set_: tuple[str, ...],
    lines: list[tuple[Any, ...]],
) -> int:
    # MySQL/MariaDB: no arrays, so each column's values are CASE arms keyed by id (lines
    # in id order).
    # Its assignments see the columns already assigned to their left, and none
    # here reads another; WHERE is evaluated before any assignment.
    quote = conn.dialect.identifier_preparer.quote
    ids = [line[0] for line in lines]
    marks = ", ".join(["%s"] * len(ids))
    run_one(conn, f"SELECT id FROM {name} WHERE id IN ({marks}) ORDER BY id FOR UPDATE", ids)
    arms = " ".join(["WHEN %s THEN %s"] * len(lines))
    sets = [f"{quote(c)} = {quote(c)} + CASE id {arms} END" for c in added]
    sets += [f"{quote(c)} = CASE id {arms} END" for c in set_]
    sets.append("version = version + 1")
    sql = (
        f"UPDATE {name} SET {', '.join(sets)}"
        f" WHERE id IN ({marks}) AND {quote(guard)} = CASE id {arms} END"
    )
    values = range(2, 2 + len(added) + len(set_))
    return run_one(conn, sql, [*_arms(lines, values), *ids, *_arms(lines, range(1, 2))])


def _arms(lines: list[tuple[Any, ...]], columns: range) -> list[Any]:
    """(id, value) pairs of each of these columns, column after column."""
    pairs: list[Any] = []
    for at in columns:
        for line in lines:
            pairs += (line[0], line[at])
    return pairs
