"""The floor of the library's own schema: its rows written with plain driver calls.

The issue's raw baselines write one bare row per item into a table with only a
primary key. Booking an item writes more than that on any implementation that
keeps the library's guarantees: the item row (with the indexes its queries
need), its journal transaction and two entries, its event in the outbox, and
per batch the statement totals and ledger balances. This baseline writes
exactly those rows, with the library's own tables and indexes, through the
driver with no Python work in between, so the table shows how far the
library's own code is from what its schema costs:

- batch: one transaction per batch: executemany of the items, journal
  transactions, entries and outbox rows, then one UPDATE per statement and one
  upsert per ledger balance touched;
- loop: one transaction per item with the same statements.

Accounts and statements exist beforehand (set up untimed through the library's
mapping), so the figure is a floor: the library also opens statements.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

import baselines
import workload
from workload import CURRENCY, DAY0, NOW, TENANT, DataSet, ItemSpec

from settlement_adapters.sqla import mapping, tables
from settlement_core.model import Account, Statement
from settlement_core.rules import Period

CLEARING = "platform:clearing"

# The statements of _sqls() in order; a layer writes the first N of them.
FULL = 6
LAYERS: tuple[tuple[str, int], ...] = (
    ("item rows (items table, its indexes)", 1),
    ("+ journal transaction and entries", 3),
    ("+ outbox event", 4),
    ("+ statement totals and balances", FULL),
)


class SchemaFloor:
    """A fresh store with the library's tables, written through a raw driver connection."""

    def __init__(self, dialect: str, conn: Any) -> None:
        self.dialect = dialect
        self.conn = conn
        self.mark = "?" if dialect == "sqlite" else "%s"

    def _begin(self) -> None:
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        if self.dialect == "sqlite":
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def _insert(self, table: Any, columns: tuple[str, ...]) -> str:
        marks = ", ".join([self.mark] * len(columns))
        return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"

    def _statements(self) -> tuple[str, str]:
        m = self.mark
        bump = (
            f"UPDATE {tables.statements.name} SET total_minor = total_minor + {m},"
            f" item_count = item_count + {m} WHERE id = {m}"
        )
        name = tables.ledger_balances.name
        if self.dialect == "mysql":
            upsert = (
                f"INSERT INTO {name} (account, currency, balance_minor) VALUES ({m}, {m}, {m})"
                " ON DUPLICATE KEY UPDATE balance_minor = balance_minor + VALUES(balance_minor)"
            )
        else:
            upsert = (
                f"INSERT INTO {name} (account, currency, balance_minor) VALUES ({m}, {m}, {m})"
                f" ON CONFLICT (account, currency) DO UPDATE SET"
                f" balance_minor = {name}.balance_minor + excluded.balance_minor"
            )
        return bump, upsert

    def batch(self, data: DataSet, batch: int, parts: int = FULL) -> float:
        """Every item's rows, one transaction per `batch` items; seconds.

        `parts` < FULL writes only the first statements of the list (see LAYERS):
        what each kind of row adds to the floor.
        """
        sqls = self._sqls()[:parts]
        seconds = 0.0
        for chunk in data.batches(batch):
            work = _batch_rows(chunk, self.dialect)[:parts]
            start = perf_counter()
            self._begin()
            cur = self.conn.cursor()
            for sql, rows in zip(sqls, work, strict=True):
                cur.executemany(sql, rows)
            cur.close()
            self._commit()
            seconds += perf_counter() - start
        return seconds

    def loop(self, data: DataSet) -> float:
        """One transaction per item with the same statements; seconds."""
        sqls = self._sqls()
        work = [_batch_rows([spec], self.dialect) for spec in data.specs()]
        start = perf_counter()
        cur = self.conn.cursor()
        for rows_of in work:
            self._begin()
            for sql, rows in zip(sqls, rows_of, strict=True):
                cur.executemany(sql, rows)
            self._commit()
        cur.close()
        return perf_counter() - start

    def _sqls(self) -> tuple[str, ...]:
        bump, upsert = self._statements()
        return (
            self._insert(tables.billing_items, workload.RAW_COLUMNS),
            self._insert(tables.journal_transactions, _TX_COLUMNS),
            self._insert(tables.journal_entries, _ENTRY_COLUMNS),
            self._insert(tables.outbox, _OUTBOX_COLUMNS),
            bump,
            upsert,
        )


_TX_COLUMNS = ("id", "tenant_id", "kind", "reference", "occurred_at", "reverses")
_ENTRY_COLUMNS = ("transaction_id", "account", "currency", "amount_minor")
_OUTBOX_COLUMNS = ("id", "tenant_id", "name", "payload", "created_at", "sent")


def _when(value: datetime, dialect: str) -> object:
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(" ", "microseconds") if dialect == "sqlite" else naive


def _batch_rows(chunk: list[ItemSpec], dialect: str) -> list[list[tuple[object, ...]]]:
    """The rows the library writes for these items: items, journal, outbox, totals, balances."""
    text = dialect == "sqlite"
    items: list[tuple[object, ...]] = []
    txs: list[tuple[object, ...]] = []
    entries: list[tuple[object, ...]] = []
    outbox: list[tuple[object, ...]] = []
    statements: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    balances: defaultdict[str, int] = defaultdict(int)
    now = _when(NOW, dialect)
    for spec in chunk:
        row = workload.raw_row(spec, text)
        items.append(row)
        item_id, account_id, statement_id = str(row[0]), str(row[3]), str(row[10])
        tx_id = str(uuid.UUID(int=(3 << 64) | spec.seq))
        pending = f"party:{account_id}:pending"
        txs.append((tx_id, TENANT, "item.booked", item_id, now, None))
        entries.append((tx_id, CLEARING, CURRENCY, -spec.cents))
        entries.append((tx_id, pending, CURRENCY, spec.cents))
        payload = {
            "account_id": account_id,
            "amount_minor": spec.cents,
            "at": NOW.isoformat(),
            "currency": CURRENCY,
            "item_id": item_id,
            "kind": spec.kind.value,
            "order_id": row[4],
            "statement_id": statement_id,
            "tenant_id": TENANT,
        }
        message_id = str(uuid.UUID(int=(4 << 64) | spec.seq))
        text_payload = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        outbox.append((message_id, TENANT, "BillingItemRecorded", text_payload, now, False))
        statements[statement_id][0] += spec.cents
        statements[statement_id][1] += 1
        balances[pending] += spec.cents
        balances[CLEARING] -= spec.cents
    bumps: list[tuple[object, ...]] = [
        (total, count, sid) for sid, (total, count) in sorted(statements.items())
    ]
    ups: list[tuple[object, ...]] = [
        (name, CURRENCY, delta) for name, delta in sorted(balances.items())
    ]
    return [items, txs, entries, outbox, bumps, ups]


def _setup_rows(data: DataSet) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accounts and statements (two days each) with the ids the raw item rows refer to."""
    from settlement_core.rules import PayoutRule

    rule = PayoutRule(rule_id="daily")
    accounts, statements = [], []
    for n in range(data.accounts):
        account_id = workload.raw_account_id(n)
        accounts.append(
            mapping.account_row(
                Account(
                    id=account_id,
                    tenant_id=TENANT,
                    shop_id=workload.shop_id(n),
                    time_zone="UTC",
                    rule_id="daily",
                    created_at=NOW,
                )
            )
        )
        for day in range(2):
            start = DAY0 + timedelta(days=day)
            statement = Statement(
                id=str(uuid.UUID(int=(2 << 64) | n << 8 | day)),
                tenant_id=TENANT,
                account_id=account_id,
                currency=CURRENCY,
                period=Period(start, start + timedelta(days=1)),
                rule=rule,
                payout_date=(start + timedelta(days=1)).date(),
                payable_at=start + timedelta(days=1),
                opened_at=NOW,
            )
            statements.append(mapping.statement_row(statement))
    return accounts, statements


def _fill(engine: Any, data: DataSet) -> None:
    from sqlalchemy import insert

    accounts, statements = _setup_rows(data)
    with engine.begin() as conn:
        for at in range(0, len(accounts), 5_000):
            conn.execute(insert(tables.accounts), accounts[at : at + 5_000])
        for at in range(0, len(statements), 5_000):
            conn.execute(insert(tables.statements), statements[at : at + 5_000])


@contextmanager
def schema_floor(backend: str, workdir: Path, label: str, data: DataSet) -> Iterator[SchemaFloor]:
    """A SchemaFloor on a fresh store of the library's schema, accounts and statements in."""
    from settlement_adapters.sqla import create_schema, make_engine

    dialect = "sqlite" if backend == "memory" else backend
    if dialect == "sqlite":
        path = workdir / f"floor-{label}.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        try:
            create_schema(engine)
            _fill(engine, data)
        finally:
            engine.dispose()
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in baselines.raw_pragmas(foreign_keys=True):
            conn.execute(pragma)
        try:
            yield SchemaFloor("sqlite", conn)
        finally:
            conn.close()
        return
    from settlement_adapters.sqla.scratch import scratch_schema

    with scratch_schema(dialect) as scratch:
        _fill(scratch.engine, data)
        with baselines.scratch_connection(scratch) as raw:
            yield SchemaFloor(dialect, raw)
