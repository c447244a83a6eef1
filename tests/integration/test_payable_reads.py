"""The payout job's read of a batch's statements stays within the batch on PostgreSQL.

Statistics taken while every statement was open say that none is closed. Right
after a close, PostgreSQL then plans a batch's `account_id = ANY(...)` read as
a scan of every closed statement on the (status, account, payable) index. The
read bounds the accounts by the batch's least and greatest id as well, so the
same plan scans only the batch's range.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla.migrate import target_schema
from settlement_adapters.sqla.scratch import scratch_schema
from settlement_core.model import ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import from_minor
from settlement_core.testing.fakes import ManualClock, StaticFxRates
from settlement_core.testing.marketplace import standard_rules

ACCOUNTS = 2_000
BATCH = 100
DAY0 = datetime(2025, 3, 3, tzinfo=UTC)


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A scratch schema with the settlement tables on PostgreSQL."""
    with scratch_schema("postgresql") as scratch:
        yield scratch.engine


def _scanned(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's scans of `table` read: the ones they returned and the ones filtered out."""
    own = 0
    if plan.get("Relation Name") == table:
        own = int(plan["Actual Rows"]) + int(plan.get("Rows Removed by Filter", 0))
    return own + sum(_scanned(child, table) for child in plan.get("Plans", []))


def test_a_batch_reads_its_own_statements_after_the_close(engine: Engine) -> None:
    """With statistics from before the close, a batch's read scans about its own statements."""
    clock = ManualClock(DAY0 + timedelta(hours=12))
    app = bootstrap(engine, standard_rules(), clock=clock, fx=StaticFxRates({}), batch_size=BATCH)
    shops = [f"shop-{n:05d}" for n in range(ACCOUNTS)]
    for shop in shops:
        app.get_or_create_account(OpenAccount(tenant_id="t", shop_id=shop))
    app.record_billing_items(
        [
            RecordBillingItem(
                tenant_id="t",
                shop_id=shop,
                key=f"ord-{n}:sale",
                order_id=f"ord-{n}",
                kind=ItemKind.SALE,
                amount=from_minor(1_000 + n, "USD"),
                occurred_at=DAY0 + timedelta(hours=1),
            )
            for n, shop in enumerate(shops)
        ]
    )
    schema = target_schema(engine)
    with engine.begin() as conn:
        conn.execute(text(f"ANALYZE {schema}.settlement_statements"))
    as_of = DAY0 + timedelta(days=2)
    clock.set(as_of)
    assert app.close_cycles(as_of).closed == ACCOUNTS

    reads: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def seen(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
        if "settlement_statements.payable_at <=" in sql and "SKIP LOCKED" in sql:
            reads.append((sql, params))

    with app.context.uow() as uow:
        batch = uow.statements.accounts_with_payable(as_of, None, BATCH)
        payable = uow.statements.payable_for_accounts(batch, as_of)
    event.remove(engine, "before_cursor_execute", seen)
    assert len(batch) == BATCH
    assert sum(len(found) for found in payable.values()) == BATCH
    assert len(reads) == 1

    sql, params = reads[0]
    with engine.connect() as conn:
        explained = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = explained.scalar_one()[0]["Plan"]
        conn.rollback()
    assert _scanned(plan, "settlement_statements") <= 2 * BATCH, plan
