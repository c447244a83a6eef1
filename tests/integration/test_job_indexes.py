"""The indexes the jobs read: the statements' due index, the items' statement index,
the payouts' release index.

A closed statement leaves the due index, so the payout job's status change
writes nothing in it (migration 0010). The index serves the close only if the
close's query names the status as a literal; SQLite's plan shows whether it does.
The items' statement index carries the amount (migration 0011), so the close's
recount reads that index alone. The release index holds released payouts only
(migration 0012), so prepare_release reads the unreleased ones in id order even
where PostgreSQL's statistics predate every payout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import create_schema, make_engine
from settlement_adapters.sqla.migrate import target_schema, upgrade
from settlement_adapters.sqla.unit_of_work import SqlAlchemyUnitOfWork
from settlement_adapters.testing import captured_sql, empty_store
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import Marketplace

DUE = "ix_settlement_statements_due"
RELEASE = "ix_settlement_payouts_release"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty schema, without a single table, on one SQL backend."""
    with empty_store(request.param, tmp_path, tables=False) as found:
        assert found is not None
        yield found


def _definition(engine: Engine, index: str) -> str:
    """An index as the database describes it (its columns, on MariaDB)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = :name"
            return str(conn.execute(text(sql), {"name": index}).scalar_one())
        if engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name AND schemaname = :s"
            found = conn.execute(text(sql), {"name": index, "s": target_schema(engine)})
            return str(found.scalar_one())
        sql = (
            "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)"
            " FROM information_schema.statistics"
            " WHERE index_name = :name AND table_schema = :s"
        )
        return str(
            conn.execute(text(sql), {"name": index, "s": target_schema(engine)}).scalar_one()
        )


# Each partial index, its condition, and its columns on MariaDB (no partial indexes there).
PARTIAL = {
    DUE: ("'open'", "status,period_end,id"),
    RELEASE: ("release_id IS NOT NULL", "release_id"),
}


@pytest.mark.parametrize("index", sorted(PARTIAL))
@pytest.mark.parametrize("build", ["migrations", "create_schema"])
def test_partial_indexes_hold_their_rows_only(engine: Engine, build: str, index: str) -> None:
    """Migrated or created from tables.py: partial on SQLite and PostgreSQL, full on MariaDB.

    The due index holds open statements, the release index released payouts.
    """
    if build == "migrations":
        upgrade(engine)
    else:
        create_schema(engine)
    found = _definition(engine, index)
    condition, columns = PARTIAL[index]
    if engine.dialect.name == "mysql":
        assert found == columns
    else:
        assert "WHERE" in found.upper()
        assert condition in found


@contextmanager
def _one_order(tmp_path: Path, *markers: str) -> Iterator[tuple[Engine, list[tuple[str, Any]]]]:
    """A SQLite store after one order and the jobs, and the SQL it ran holding every marker."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(engine)

    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx)

    with captured_sql(engine, lambda sql: all(marker in sql for marker in markers)) as queries:
        market = Marketplace(build)
        market.shop("s1")
        market.order("s1", "10.00")
        market.advance(days=3)
        assert market.run_jobs()[0] == 1
    try:
        yield engine, queries
    finally:
        engine.dispose()


def _close_plans(tmp_path: Path, *markers: str) -> list[str]:
    """SQLite's plans of the jobs' queries whose SQL holds every marker, run on one order."""
    with _one_order(tmp_path, *markers) as (engine, queries), engine.connect() as conn:
        return [
            " ".join(str(step) for step in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", p))
            for sql, p in queries
        ]


def test_the_close_reads_due_statements_through_the_due_index(tmp_path: Path) -> None:
    """SQLite plans the close's own query on the partial index, not on a scan."""
    plans = _close_plans(
        tmp_path, "ORDER BY settlement_statements.period_end, settlement_statements.id"
    )
    assert plans, "the close read no due statements"
    for plan in plans:
        assert DUE in plan, plan


def test_the_close_recounts_from_the_statement_index_alone(tmp_path: Path) -> None:
    """The recount's GROUP BY and the count of pending items read no item row."""
    sums = _close_plans(tmp_path, "sum(settlement_billing_items.amount_minor)", "GROUP BY")
    counts = _close_plans(tmp_path / "again", "count(*)", "FROM settlement_billing_items")
    assert sums and counts
    for plan in [*sums, *counts]:
        assert "COVERING INDEX ix_settlement_billing_items_statement" in plan, plan


# Enough rows that PostgreSQL, believing them one, read and sorted them all (from about
# 30k rows on this schema).
MANY = 50_000
_PAYOUT = (
    "INSERT INTO {table} (id, tenant_id, account_id, payout_key, amount_minor, currency,"
    " sources, statement_ids, created_at, transaction_id, status, attempts, kind, channel,"
    " release_id, funded, version, submitted_at, next_attempt_at)"
    " SELECT {id}, 't', md5(g::text), '{status}-' || g, 100, 'USD', '[]', '[]',"
    " TIMESTAMP '2025-03-04 00:00', md5(g::text), '{status}', 0, 'scheduled', 'default',"
    " {release}, false, 1, TIMESTAMP '2025-03-04 01:00', TIMESTAMP '2025-03-04 02:00'"
    " FROM generate_series(1, {count}) g"
)
_AS_OF = datetime(2025, 3, 5, tzinfo=UTC)
_CURSOR = "01000000-0000-7000-8000-000000000000"
# The dispatch jobs' scans: the status their payouts are in, and the page they read.
SCANS: dict[str, tuple[str, Callable[[SqlAlchemyUnitOfWork, str | None], object]]] = {
    "prepare_release": ("created", lambda uow, after: uow.payouts.releasable(_AS_OF, after, 500)),
    "poll_channels": ("ongoing", lambda uow, a: uow.payouts.awaiting_answer(_AS_OF, a, 500)),
    "retry_failed_payouts": ("failed", lambda uow, a: uow.payouts.due_for_retry(_AS_OF, a, 500)),
}


def _scan_queries(
    engine: Engine, scan: Callable[[SqlAlchemyUnitOfWork, str | None], object]
) -> list[tuple[str, Any]]:
    """The SQL and parameters of a job's payout scan, from the start and after a cursor."""

    def locking(sql: str) -> bool:
        return "settlement_payouts" in sql and "FOR UPDATE" in sql

    with captured_sql(engine, locking) as queries, SqlAlchemyUnitOfWork(engine) as uow:
        scan(uow, None)
        scan(uow, _CURSOR)
    return queries


@pytest.mark.parametrize("job", sorted(SCANS))
def test_a_job_reads_its_payouts_in_id_order_on_statistics_older_than_them(
    tmp_path: Path, job: str
) -> None:
    """PostgreSQL analyzed with one paid payout, then 50k made: no sort, the dispatch index."""
    status, scan = SCANS[job]
    with empty_store("postgresql", tmp_path) as engine:
        assert engine is not None
        table = f"{target_schema(engine)}.settlement_payouts"
        one = "'00000000-0000-7000-8000-000000000001'"
        with engine.begin() as conn:
            conn.execute(
                text(_PAYOUT.format(table=table, id=one, status="paid", release="'r'", count=1))
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"ANALYZE {table}"))
        queries = _scan_queries(engine, scan)
        many = "'01a2523d-' || lpad(to_hex(g), 27, '0')"
        with engine.begin() as conn:
            conn.execute(
                text(
                    _PAYOUT.format(table=table, id=many, status=status, release="NULL", count=MANY)
                )
            )
            plans = [
                "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
                for sql, params in queries
            ]
    assert len(plans) >= 2
    for plan in plans:
        assert "Sort" not in plan, plan
        assert "ix_settlement_payouts_dispatch" in plan, plan


def test_payouts_awaiting_an_answer_come_in_id_order_across_statuses(tmp_path: Path) -> None:
    """The poll's page merges its scans per status: in id order, the limit, after the cursor."""
    insert = (
        "INSERT INTO settlement_payouts (id, tenant_id, account_id, payout_key, amount_minor,"
        " currency, sources, statement_ids, created_at, transaction_id, status, attempts,"
        " version, submitted_at) VALUES (:id, 't', 'a', :id, 100, 'USD', '[]', '[]',"
        " '2025-03-04 00:00:00.000000', 'x', :status, 1, 1, '2025-03-04 01:00:00.000000')"
    )
    # Ongoing and unknown payouts alternate in id order.
    rows = [
        {"id": f"01a2523d-0000-7000-8000-{n:012d}", "status": ("ongoing", "unknown")[n % 2]}
        for n in range(12)
    ]
    with empty_store("sqlite", tmp_path) as engine:
        assert engine is not None
        with engine.begin() as conn:
            conn.execute(text(insert), rows)
        with SqlAlchemyUnitOfWork(engine) as uow:
            first = uow.payouts.awaiting_answer(_AS_OF, None, 5)
            rest = uow.payouts.awaiting_answer(_AS_OF, first[-1].id, 5)
            last = uow.payouts.awaiting_answer(_AS_OF, rest[-1].id, 5)
    assert [int(p.id[-12:]) for p in first] == [0, 1, 2, 3, 4]
    assert [int(p.id[-12:]) for p in rest] == [5, 6, 7, 8, 9]
    assert [int(p.id[-12:]) for p in last] == [10, 11]


def test_a_release_s_payouts_are_found_through_the_partial_index(tmp_path: Path) -> None:
    """SQLite reads `release_id = ?` from the index without NULLs."""
    with empty_store("sqlite", tmp_path) as engine:
        assert engine is not None
        with engine.connect() as conn:
            sql = "SELECT id FROM settlement_payouts WHERE release_id = ?"
            plan = " ".join(
                str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ("r",))
            )
    assert RELEASE in plan, plan


# A statement's status compared with a bound value in a read.
_BOUND_STATUS = re.compile(r"settlement_statements\.status (?:=|!=|IN \() ?\?")


def test_reads_of_statements_name_their_status_as_a_literal(tmp_path: Path) -> None:
    """No read binds a statement status: SQLite would compile it again at every execution.

    Its planner compares a bound value with the due index's condition (status =
    'open') and marks the compiled statement stale at every new binding: a
    shop's account read with its open statements took 70 µs instead of 15.
    """
    with _one_order(tmp_path, "settlement_statements") as (_, queries):
        reads = [sql for sql, _ in queries if sql.lstrip().upper().startswith("SELECT")]
    assert reads
    bound = [sql for sql in reads if _BOUND_STATUS.search(sql)]
    assert not bound, bound
