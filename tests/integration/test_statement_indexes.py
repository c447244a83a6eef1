"""The indexes the close reads: the statements' due index, the items' statement index.

A closed statement leaves the due index, so the payout job's status change
writes nothing in it (migration 0010). The index serves the close only if the
close's query names the status as a literal; SQLite's plan shows whether it does.
The items' statement index carries the amount (migration 0011), so the close's
recount reads that index alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import create_schema, make_engine
from settlement_adapters.sqla.migrate import target_schema, upgrade
from settlement_adapters.testing import empty_store
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import Marketplace

DUE = "ix_settlement_statements_due"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty schema, without a single table, on one SQL backend."""
    with empty_store(request.param, tmp_path, tables=False) as found:
        assert found is not None
        yield found


def _definition(engine: Engine) -> str:
    """The due index as the database describes it."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = :name"
            return str(conn.execute(text(sql), {"name": DUE}).scalar_one())
        if engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name AND schemaname = :s"
            found = conn.execute(text(sql), {"name": DUE, "s": target_schema(engine)})
            return str(found.scalar_one())
        sql = (
            "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)"
            " FROM information_schema.statistics"
            " WHERE index_name = :name AND table_schema = :s"
        )
        return str(conn.execute(text(sql), {"name": DUE, "s": target_schema(engine)}).scalar_one())


@pytest.mark.parametrize("build", ["migrations", "create_schema"])
def test_the_due_index_holds_open_statements_only(engine: Engine, build: str) -> None:
    """Migrated or created from tables.py: partial on SQLite and PostgreSQL, full on MariaDB."""
    if build == "migrations":
        upgrade(engine)
    else:
        create_schema(engine)
    found = _definition(engine)
    if engine.dialect.name == "mysql":
        assert found == "status,period_end,id"
    else:
        assert "WHERE" in found.upper()
        assert "'open'" in found


def _close_plans(tmp_path: Path, *markers: str) -> list[str]:
    """SQLite's plans of the jobs' queries whose SQL holds every marker, run on one order."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(engine)
    queries: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def seen(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
        if all(marker in sql for marker in markers):
            queries.append((sql, params))

    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx)

    market = Marketplace(build)
    market.shop("s1")
    market.order("s1", "10.00")
    market.advance(days=3)
    assert market.run_jobs()[0] == 1
    event.remove(engine, "before_cursor_execute", seen)
    with engine.connect() as conn:
        plans = [
            " ".join(str(step) for step in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", p))
            for sql, p in queries
        ]
    engine.dispose()
    return plans


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
