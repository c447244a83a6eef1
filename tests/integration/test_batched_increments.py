"""Statement totals, ledger balances and guarded changes written for many rows at once.

PostgreSQL and MySQL apply a batch's statement increments in one statement
(and PostgreSQL its balances too), SQLite row by row (see `increments.py`);
every path must add exactly, create missing balances, and refuse an increment
to a statement closed underneath. Changes under a version or status check go
the same way (`versioned.py`): every value written as the per-row statement
writes it, each version up by one, and a row changed underneath is not written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from settlement_adapters.sqla import mapping, tables
from settlement_adapters.sqla.bulk import insert_rows
from settlement_adapters.sqla.increments import CASE_ROWS
from settlement_adapters.sqla.unit_of_work import ARRAYS_FROM, SqlAlchemyUnitOfWork
from settlement_adapters.testing import empty_store
from settlement_core.errors import ConcurrencyConflict
from settlement_core.ledger import Entry, JournalTransaction
from settlement_core.lifecycle import StatementStatus
from settlement_core.model import Account, Statement
from settlement_core.rules import PayoutRule, Period

START = datetime(2025, 3, 3, tzinfo=UTC)
TENANT = "t1"
ACCOUNT = "00000000-0000-7000-8000-000000000001"
# Enough rows for the batched path, and on MySQL for two CASE statements (see increments.py).
COUNT = max(ARRAYS_FROM, CASE_ROWS) + 2


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store with one account and COUNT open statements (daily, consecutive)."""
    with empty_store(request.param, tmp_path) as found:
        assert found is not None
        account = Account(
            id=ACCOUNT,
            tenant_id=TENANT,
            shop_id="shop-1",
            time_zone="UTC",
            rule_id="daily",
            created_at=START,
        )
        with found.begin() as conn:
            insert_rows(conn, tables.accounts, [mapping.account_row(account)])
            insert_rows(conn, tables.statements, [mapping.statement_row(s) for s in _statements()])
        yield found


def _statements() -> list[Statement]:
    return [
        Statement(
            id=f"00000000-0000-7000-8000-{n:012d}",
            tenant_id=TENANT,
            account_id=ACCOUNT,
            currency="EUR",
            period=Period(START + timedelta(days=n), START + timedelta(days=n + 1)),
            rule=PayoutRule(rule_id="daily"),
            payout_date=(START + timedelta(days=n + 2)).date(),
            payable_at=START + timedelta(days=n + 2),
            opened_at=START,
            total_minor=1_000 * n,
            item_count=n,
        )
        for n in range(COUNT)
    ]


def _totals(engine: Engine) -> list[tuple[int, int]]:
    c = tables.statements.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.total_minor, c.item_count).order_by(c.id)).all()
    return [(int(total), int(count)) for total, count in rows]


def test_booking_on_many_statements_adds_to_each(engine: Engine) -> None:
    """Each statement gets exactly its own items' sum and count."""
    with SqlAlchemyUnitOfWork(engine) as uow:
        for n, statement in enumerate(_statements()):
            loaded = uow.statements.get(TENANT, statement.id)
            for _ in range(n % 3 + 1):
                loaded.book(7 + n)
        uow.commit()
    expected = [(1_000 * n + (n % 3 + 1) * (7 + n), n + n % 3 + 1) for n in range(COUNT)]
    assert _totals(engine) == expected


def test_a_statement_closed_underneath_refuses_the_whole_batch(engine: Engine) -> None:
    """One increment that finds its statement closed: a conflict, and nothing written."""
    before = _totals(engine)
    closed = _statements()[COUNT // 2].id
    with SqlAlchemyUnitOfWork(engine) as uow:
        for statement in _statements():
            uow.statements.get(TENANT, statement.id).book(5)
        # As a close by another writer would leave it, after this one read it open.
        uow.execute(
            update(tables.statements)
            .where(tables.statements.c.id == closed)
            .values(status="closed")
        )
        with pytest.raises(ConcurrencyConflict):
            uow.commit()
    assert _totals(engine) == before


def _balances(engine: Engine) -> dict[tuple[str, str], int]:
    b = tables.ledger_balances.c
    with engine.connect() as conn:
        rows = conn.execute(select(b.account, b.currency, b.balance_minor)).all()
    return {(account, currency): int(value) for account, currency, value in rows}


def _post(engine: Engine, first: int, parties: int, amount: int) -> None:
    with SqlAlchemyUnitOfWork(engine) as uow:
        for n in range(first, first + parties):
            uow.ledger.post(
                JournalTransaction(
                    id=f"00000000-0000-7000-9000-{n:012d}",
                    tenant_id=TENANT,
                    kind="test.booked",
                    reference=f"ref-{n}",
                    occurred_at=START,
                    entries=(
                        Entry("platform:clearing", "EUR", -amount),
                        Entry(f"party:{n % parties}:pending", "EUR", amount),
                    ),
                )
            )
        uow.commit()


def test_balances_are_created_then_added_to(engine: Engine) -> None:
    """Missing balances start at the delta; existing ones add it, also the shared one."""
    parties = ARRAYS_FROM + 1
    _post(engine, 0, parties, 250)
    _post(engine, parties, parties, 40)
    expected = {("platform:clearing", "EUR"): -290 * parties}
    expected |= {(f"party:{n}:pending", "EUR"): 290 for n in range(parties)}
    assert _balances(engine) == expected


def _statement_rows(engine: Engine) -> list[dict[str, object]]:
    c = tables.statements.c
    columns = (c.status, c.closed_at, c.recount_minor, c.payout_id, c.version)
    with engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(c.id)).all()
    return [dict(row._mapping) for row in rows]


@pytest.mark.parametrize("count", [1, COUNT])
def test_changes_of_many_statements_are_each_written_and_versioned(
    engine: Engine, count: int
) -> None:
    """Closed then paid in two commits: every row holds its own values, version up by one each."""
    chosen = _statements()[:count]
    with SqlAlchemyUnitOfWork(engine) as uow:
        for n, statement in enumerate(chosen):
            uow.statements.get(TENANT, statement.id).close(START + timedelta(hours=n), n)
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        for n, statement in enumerate(chosen):
            uow.statements.get(TENANT, statement.id).pay_out(START, f"payout-{n}", None)
        uow.commit()
    rows = _statement_rows(engine)
    for n, row in enumerate(rows[:count]):
        assert row == {
            "status": StatementStatus.PAID_OUT.value,
            "closed_at": START + timedelta(hours=n),
            "recount_minor": n,
            "payout_id": f"payout-{n}",
            "version": 2,
        }
    assert all(row["status"] == StatementStatus.OPEN.value for row in rows[count:])


def test_a_statement_changed_underneath_refuses_the_whole_change(engine: Engine) -> None:
    """One row whose version moved since it was read: a conflict, and no row written."""
    before = _statement_rows(engine)
    moved = _statements()[COUNT // 2].id
    with SqlAlchemyUnitOfWork(engine) as uow:
        for statement in _statements():
            uow.statements.get(TENANT, statement.id).close(START, 0)
        c = tables.statements.c
        uow.execute(update(tables.statements).where(c.id == moved).values(version=c.version + 1))
        with pytest.raises(ConcurrencyConflict):
            uow.commit()
    assert _statement_rows(engine) == before


def test_a_guarded_write_counts_only_the_rows_whose_guard_held(engine: Engine) -> None:
    """The close's status guard: a row not in the status given stays as it was."""
    ids = [s.id for s in _statements()]
    at = START + timedelta(days=9)
    # The last line expects a status its row is not in; every column a null or a value.
    lines = [(i, "open", "closed", at, None) for i in ids[:-1]] + [(ids[-1], "closed", "x", at, 1)]
    with SqlAlchemyUnitOfWork(engine) as uow:
        sets = ("status", "closed_at", "recount_minor")
        assert uow.write_guarded(tables.statements, "status", (), sets, lines) == COUNT - 1
        uow.commit()
    rows = _statement_rows(engine)
    assert rows[-1] == {
        "status": "open",
        "closed_at": None,
        "recount_minor": None,
        "payout_id": None,
        "version": 0,
    }
    assert rows[:-1] == [
        {
            "status": "closed",
            "closed_at": at,
            "recount_minor": None,
            "payout_id": None,
            "version": 1,
        }
    ] * (COUNT - 1)


def test_a_change_with_increments_adds_them_and_sets_the_rest(engine: Engine) -> None:
    """Booked and closed in one unit of work: totals added, status set, one version step."""
    with SqlAlchemyUnitOfWork(engine) as uow:
        for n, statement in enumerate(_statements()):
            loaded = uow.statements.get(TENANT, statement.id)
            loaded.book(11)
            loaded.close(START, 1_000 * n + 11)
        uow.commit()
    assert _totals(engine) == [(1_000 * n + 11, n + 1) for n in range(COUNT)]
    rows = _statement_rows(engine)
    assert [(row["status"], row["recount_minor"], row["version"]) for row in rows] == [
        ("closed", 1_000 * n + 11, 1) for n in range(COUNT)
    ]
