"""Writes on the driver's cursor store exactly what SQLAlchemy Core would store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError

from settlement_adapters.faults import FaultPlan, sql_faults
from settlement_adapters.sqla import mapping, tables
from settlement_adapters.sqla.bulk import (
    _json,
    _naive_utc,
    converted,
    insert_rows,
    insert_values,
    processor,
    sqlite_instant,
)
from settlement_adapters.sqla.copy import COPY_FROM
from settlement_adapters.sqla.rule_column import rule_from_text, rule_text
from settlement_adapters.sqla.types import JsonText, UtcDateTime, json_text
from settlement_adapters.sqla.unit_of_work import SqlAlchemyUnitOfWork
from settlement_adapters.testing import empty_store
from settlement_core.ledger import Entry, JournalTransaction
from settlement_core.model import Account, Statement
from settlement_core.money import money
from settlement_core.rules import Cycle, PayoutRule, Period

START = datetime(2025, 3, 3, tzinfo=UTC)
SERVER_DIALECTS: tuple[Dialect, ...] = tuple(
    make_url(url).get_dialect()() for url in ("postgresql+psycopg://", "mysql+pymysql://")
)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty store with the settlement tables on one SQL backend."""
    with empty_store(request.param, tmp_path) as found:
        assert found is not None
        yield found


aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min]),
)


@settings(max_examples=300)
@given(aware)
def testsqlite_instants_are_the_text_sqlalchemy_writes(value: datetime) -> None:
    """UtcDateTime's conversion then SQLite DATETIME's format, for any aware instant."""
    dialect = sqlite.dialect()
    process = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert sqlite_instant(value) == process(value)


def test_a_naive_instant_is_refused_like_the_column_type_does() -> None:
    """A naive datetime reaching the database layer is a bug upstream, never stored."""
    with pytest.raises(ValueError, match="naive"):
        sqlite_instant(datetime(2025, 3, 3))


@settings(max_examples=200)
@given(aware)
def test_server_instants_are_the_values_sqlalchemy_binds(value: datetime) -> None:
    """UtcDateTime's naive UTC value, on the dialects whose DATETIME adds no conversion."""
    for dialect in SERVER_DIALECTS:
        process = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
        assert process is not None
        assert processor(tables.outbox, "created_at", dialect) is _naive_utc
        assert _naive_utc(value) == process(value)
    with pytest.raises(ValueError, match="naive"):
        _naive_utc(datetime(2025, 3, 3))


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner) | st.dictionaries(st.text(), inner)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    _containers,
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_json_columns_get_the_text_of_the_column_type(value: Any) -> None:
    """The bulk path's JSON text is JsonText's canonical text, for any JSON value."""
    for dialect in (sqlite.dialect(), *SERVER_DIALECTS):
        process = JsonText().dialect_impl(dialect).bind_processor(dialect)
        assert process is not None
        assert processor(tables.outbox, "payload", dialect) is _json
        assert _json(value) == process(value)
    # None is SQL NULL, not the JSON text "null".
    assert _json(value) == (None if value is None else json_text(value))


@settings(max_examples=100)
@given(st.lists(st.sampled_from([START, START + timedelta(seconds=1)]) | aware, max_size=12))
def test_repeated_instants_convert_as_each_alone(values: list[datetime]) -> None:
    """A column converted once per distinct instant holds what one by one would."""
    lines = [(n, value, value.astimezone(timezone.min)) for n, value in enumerate(values)]
    processors = (None, sqlite_instant, sqlite_instant)
    expected = [(n, sqlite_instant(v), sqlite_instant(v)) for n, v in enumerate(values)]
    assert converted(processors, lines) == expected


def test_ambiguous_local_instants_keep_their_own_utc_time() -> None:
    """Equal wall times an hour apart (DST fold) are never merged into one conversion."""
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2025, 10, 26, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    assert first == second and first.astimezone(UTC) != second.astimezone(UTC)
    lines = [(first,), (second,), (first,), (second,)]
    expected = [(sqlite_instant(value),) for (value,) in lines]
    assert converted((sqlite_instant,), lines) == expected
    assert converted((_naive_utc,), lines) == [(_naive_utc(v),) for (v,) in lines]


def _account(n: int) -> Account:
    return Account(
        id=f"00000000-0000-7000-8000-{n:012d}",
        tenant_id="t1",
        shop_id=f"shop-{n}",
        time_zone="Europe/Berlin",
        rule_id="daily",
        created_at=START + timedelta(microseconds=n),
        attributes={"region": "eu", "n": str(n)},
    )


def test_rows_written_on_the_cursor_read_back_as_core_inserts_do(engine: Engine) -> None:
    """Same rows through Core and through the driver: identical when read back."""
    core = [mapping.account_row(_account(n)) for n in range(3)]
    driver = [mapping.account_row(_account(n)) for n in range(3, 6)]
    with engine.begin() as conn:
        conn.execute(insert(tables.accounts), core)
        insert_rows(conn, tables.accounts, driver)
    with engine.connect() as conn:
        rows = conn.execute(select(tables.accounts).order_by(tables.accounts.c.id)).all()
    read = [mapping.account_from(dict(row._mapping)) for row in rows]
    expected = [_account(n) for n in range(6)]
    assert [mapping.account_row(a) for a in read] == [mapping.account_row(a) for a in expected]


def test_tuples_in_column_order_store_what_dict_rows_do(engine: Engine) -> None:
    """insert_values with tuples writes the rows insert_rows writes from dicts."""
    rows = [mapping.account_row(_account(n)) for n in range(4)]
    with engine.begin() as conn:
        insert_rows(conn, tables.accounts, rows[:2])
        insert_values(conn, tables.accounts, tuple(rows[2]), [tuple(r.values()) for r in rows[2:]])
        insert_values(conn, tables.accounts, tuple(rows[0]), [])
    with engine.connect() as conn:
        read = conn.execute(select(tables.accounts).order_by(tables.accounts.c.id)).all()
    assert [mapping.account_row(mapping.account_from(dict(r._mapping))) for r in read] == rows


def test_a_duplicate_key_on_the_cursor_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    """Lost races stay recognisable (and so retryable) when the insert bypasses Core."""
    with engine.begin() as conn:
        insert_rows(conn, tables.accounts, [mapping.account_row(_account(1))])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_rows(conn, tables.accounts, [mapping.account_row(_account(1))])


def test_cursor_writes_fire_the_engine_events_once_listened(engine: Engine) -> None:
    """A listener added while a connection is open sees its cursor writes, one row or many."""
    rows = [mapping.account_row(_account(n)) for n in range(3)]
    seen: list[tuple[str, str, Any, bool]] = []

    def before(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        seen.append(("before", sql.split("(", 1)[0], params, many))

    def after(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        seen.append(("after", sql.split("(", 1)[0], params, many))

    with engine.begin() as conn:
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            insert_rows(conn, tables.accounts, rows[:1])
            insert_rows(conn, tables.accounts, rows[1:])
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
    assert [(when, many) for when, _, _, many in seen] == [
        ("before", False),
        ("after", False),
        ("before", True),
        ("after", True),
    ]
    assert all("accounts" in sql for _, sql, _, _ in seen)
    # One row goes as one parameter set, as Core sends it; many as a list of them.
    assert rows[0]["id"] in seen[0][2]
    assert [line[0] for line in seen[2][2]] == [rows[1]["id"], rows[2]["id"]]


def _rule(**changes: Any) -> PayoutRule:
    fields: dict[str, Any] = {
        "rule_id": "weekly-eu",
        "version": 3,
        "cycle": Cycle.weekly(2),
        "payment_threshold": money("25.00", "EUR"),
        "negative_balance_limit": money("100.00", "EUR"),
        "delay_days": 2,
    }
    return PayoutRule(**(fields | changes))


def test_a_rule_snapshot_round_trips_through_its_text() -> None:
    """Canonical JSON text in, an equal rule out; equal rules give the same text."""
    rule = _rule()
    text = rule_text(rule)
    assert rule_from_text(text) == rule
    assert rule_text(_rule()) == text
    assert rule_text(_rule(delay_days=3)) != text


def test_statements_keep_their_rule_on_every_backend(engine: Engine) -> None:
    """A statement's rule snapshot is stored and read back whole."""
    rule = _rule(effective_from=START)
    statement = Statement(
        id="00000000-0000-7000-8000-000000000099",
        tenant_id="t1",
        account_id=_account(1).id,
        currency="EUR",
        period=Period(START, START + timedelta(days=7)),
        rule=rule,
        payout_date=(START + timedelta(days=9)).date(),
        payable_at=START + timedelta(days=9),
        opened_at=START,
    )
    with engine.begin() as conn:
        insert_rows(conn, tables.accounts, [mapping.account_row(_account(1))])
        insert_rows(conn, tables.statements, [mapping.statement_row(statement)])
    with engine.connect() as conn:
        row = conn.execute(select(tables.statements)).one()
    assert mapping.statement_from(dict(row._mapping)).rule == rule


def test_large_journal_writes_reach_the_fault_points(engine: Engine) -> None:
    """A batch big enough for COPY on PostgreSQL still reaches `ledger_written` once."""
    plan = FaultPlan()
    with sql_faults(engine, plan), SqlAlchemyUnitOfWork(engine) as uow:
        for n in range(COPY_FROM):
            uow.ledger.post(
                JournalTransaction(
                    id=f"00000000-0000-7000-9000-{n:012d}",
                    tenant_id="t1",
                    kind="test.booked",
                    reference=f"ref-{n}",
                    occurred_at=START,
                    entries=(Entry("platform:clearing", "EUR", -5), Entry("party:1", "EUR", 5)),
                )
            )
        uow.commit()
    assert plan.seen["ledger_written"] == 1
