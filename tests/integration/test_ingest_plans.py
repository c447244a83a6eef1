"""PostgreSQL's plans of the batch ingest's lookups on tables never analyzed.

A new deployment's tables have no statistics until autovacuum first analyzes
them, and a bulk load can outrun it. The planner then takes a tenant for 0.5%
of the rows: the lookups of a batch's keys and shops read every row of the
tenant through a tenant index, and the lock of its statements read every open
one, so each batch cost more than the last; the increments that follow the
lock hashed every open statement. Each lookup is one probe of a unique index
per value, and each increment finds its row by the ctid its lock returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select, text, update

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import tables
from settlement_adapters.sqla.bulk import qualified_name
from settlement_adapters.sqla.increments import add_to_open, lock_by_ids
from settlement_adapters.sqla.unit_of_work import SqlAlchemyUnitOfWork
from settlement_adapters.testing import captured_sql, empty_store
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT, Marketplace

# Enough rows that the planner, guessing from the table's size alone, read them all.
MANY = 50_000
_LOOKED_UP = 2_000


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A PostgreSQL store with one order, then MANY copies of its rows, never analyzed."""
    with empty_store("postgresql", tmp_path) as found:
        assert found is not None

        def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
            return bootstrap(found, rules, clock=clock, fx=fx)

        market = Marketplace(build)
        market.shop("s1")
        market.order("s1", "10.00", key="k-0")
        with found.begin() as conn:
            # Copies differ from the original in their unique columns only.
            _copy(conn, tables.accounts, {"id": "'a-' || g", "shop_id": "'s-' || g"})
            _copy(conn, tables.billing_items, {"id": "'i-' || g", "item_key": "'k-' || g"})
            _copy(
                conn,
                tables.statements,
                {"id": "'st-' || g", "period_start": "period_start - g * INTERVAL '1 day'"},
            )
        yield found


def _copy(conn: Any, table: Table, unique: dict[str, str]) -> None:
    """MANY copies of a table's only row, its `unique` columns given as SQL of g."""
    columns = [c.name for c in table.columns]
    values = ", ".join(unique.get(name, f'"{name}"') for name in columns)
    name = qualified_name(conn, table)
    listed = ", ".join(f'"{name}"' for name in columns)
    copies = f"SELECT {values} FROM {name}, generate_series(1, {MANY}) g"
    conn.execute(text(f"INSERT INTO {name} ({listed}) {copies}"))


def _captured(
    engine: Engine, read: Callable[[SqlAlchemyUnitOfWork], object]
) -> list[tuple[str, Any]]:
    """The SELECTs a read runs, with their parameters."""
    selects = captured_sql(engine, lambda sql: sql.lstrip().upper().startswith("SELECT"))
    with selects as queries, SqlAlchemyUnitOfWork(engine) as uow:
        read(uow)
    return queries


def _plan(engine: Engine, sql: str, params: Any) -> str:
    with engine.connect() as conn:
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}", params))


# Every other value is stored: found ones and missing ones alike are looked up.
LOOKUPS: dict[str, tuple[Callable[[SqlAlchemyUnitOfWork], object], str]] = {
    "keys": (
        lambda uow: uow.items.find_by_keys(TENANT, [f"k-{n}" for n in range(0, 2 * _LOOKED_UP, 2)]),
        "uq_settlement_billing_items_key",
    ),
    "shops": (
        lambda uow: uow.accounts.find_by_shops(
            TENANT, [f"s-{n}" for n in range(0, 2 * _LOOKED_UP, 2)]
        ),
        "uq_settlement_accounts_shop",
    ),
}


@pytest.mark.parametrize("lookup", sorted(LOOKUPS))
def test_a_batch_looks_its_values_up_one_index_probe_each(engine: Engine, lookup: str) -> None:
    """A nested loop over the values, on the unique index: no scan of the tenant's rows."""
    read, index = LOOKUPS[lookup]
    queries = _captured(engine, read)
    assert len(queries) == 1
    plan = _plan(engine, *queries[0])
    assert "Nested Loop" in plan, plan
    assert index in plan, plan
    assert "Bitmap" not in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("condition", ["", " AND status = %s"])
def test_statements_are_locked_one_primary_key_probe_each(engine: Engine, condition: str) -> None:
    """The lock before a batch's increments (or versioned changes) reads by primary key only."""
    ids = sorted(f"st-{n}" for n in range(0, 2 * _LOOKED_UP, 2))
    with engine.connect() as conn:
        sql = lock_by_ids(
            conn.dialect, qualified_name(conn, tables.statements), tables.statements, condition
        )
    plan = _plan(engine, sql, (ids, "open") if condition else (ids,))
    assert "pk_settlement_statements" in plan, plan
    assert "Seq Scan" not in plan and "ix_settlement_statements_due" not in plan, plan


def test_statements_are_locked_in_the_order_given(engine: Engine) -> None:
    """The rows come back (and are locked) in the order of the ids, not the table's."""
    ids = sorted(f"st-{n}" for n in range(1, 200))
    with engine.begin() as conn:
        sql = lock_by_ids(conn.dialect, qualified_name(conn, tables.statements), tables.statements)
        got = [row[0] for row in conn.exec_driver_sql(sql, (ids,))]
    assert got == ids


def test_a_long_lookup_comes_in_chunks_and_finds_every_value(engine: Engine) -> None:
    """From 4,000 values on, a lookup is split (a costlier plan would be compiled first)."""
    keys = [f"k-{n}" for n in range(9_000)]
    found: dict[str, Any] = {}
    queries = _captured(engine, lambda uow: found.update(uow.items.find_by_keys(TENANT, keys)))
    assert len(queries) == 3
    assert sorted(found) == sorted(keys)
    assert all(item.key == key for key, item in found.items())


def test_statement_increments_find_their_rows_by_the_ctids_locked(engine: Engine) -> None:
    """The UPDATE after the lock joins each row by its ctid, not through the status index.

    Whether PostgreSQL then fetches each ctid or scans the table is its choice by
    the table's size, which it knows without statistics: here a scan (50k rows),
    at a million items a fetch per row.
    """
    ids = [f"st-{n}" for n in range(2, 2 * _LOOKED_UP + 1, 2)]
    updating = captured_sql(engine, lambda sql: sql.startswith("UPDATE"))
    with updating as updates, engine.begin() as conn:
        rows = [(statement_id, 3, 1) for statement_id in ids]
        columns = ("total_minor", "item_count")
        assert add_to_open(conn, tables.statements, columns, rows, "open") == len(ids)
        plan = "\n".join(
            r[0] for r in conn.exec_driver_sql(f"EXPLAIN {updates[0][0]}", updates[0][1])
        )
    assert "Tid Scan" in plan or "Hash Cond: (v.row_tid = t.ctid)" in plan, plan
    assert "Bitmap" not in plan and "status" not in plan, plan
    s = tables.statements.c
    with engine.connect() as conn:
        got = conn.execute(select(s.id, s.total_minor, s.item_count).where(s.id.in_(ids[:3]))).all()
        original = conn.execute(
            select(s.total_minor, s.item_count).where(s.id.not_like("st-%"))
        ).one()
    assert {(t, c) for _, t, c in got} == {(original.total_minor + 3, original.item_count + 1)}


def test_increments_skip_a_statement_no_longer_open(engine: Engine) -> None:
    """A closed statement is neither locked nor changed: the count says so."""
    s = tables.statements.c
    with engine.begin() as conn:
        conn.execute(update(tables.statements).where(s.id == "st-1").values(status="closed"))
        rows = [("st-1", 5, 1), ("st-2", 5, 1)]
        assert (
            add_to_open(conn, tables.statements, ("total_minor", "item_count"), rows, "open") == 1
        )
        closed = conn.execute(select(s.total_minor).where(s.id == "st-1")).scalar_one()
        still = conn.execute(select(s.total_minor).where(s.id == "st-3")).scalar_one()
    assert closed == still  # st-3 was never touched, st-1 as it was before
