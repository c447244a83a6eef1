"""Raw baselines: what the database does with plain DB-API calls and no library.

The issue's baselines are plain `sqlite3`; the same three jobs also run on
PostgreSQL (psycopg, plus COPY) and MariaDB (PyMySQL) through the driver
connection of a scratch schema, so each backend has a raw figure from the same
run to compare the library with:

- bulk: executemany of bare item rows (the 17 columns of the items table, a
  primary key and nothing else), one transaction per batch;
- loop: one transaction per item: insert the item, upsert its statement total,
  update its account's balance;
- group_by: `INSERT INTO totals SELECT ... GROUP BY account, currency, day` of
  the bulk-loaded items: the raw counterpart of closing every cycle.

Rows are built from the seeded specs before the clock starts.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import workload
from workload import RAW_COLUMNS, DataSet

if TYPE_CHECKING:
    from settlement_adapters.sqla.scratch import Scratch

REPEATS = 3  # raw jobs are cheap: the median of three runs on emptied tables


class RawDb:
    """A DB-API connection on one backend with the bench tables in its default schema."""

    def __init__(self, dialect: str, conn: Any) -> None:
        self.dialect = dialect
        self.conn = conn
        self.text_times = dialect == "sqlite"
        self.mark = "?" if dialect == "sqlite" else "%s"

    # plumbing
    def _run(self, sql: str, params: tuple[object, ...] = ()) -> None:
        cur = self.conn.cursor()
        cur.execute(sql, params)
        cur.close()

    def _begin(self) -> None:
        if self.dialect == "sqlite":  # autocommit mode: we open transactions ourselves
            self._run("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        if self.dialect == "sqlite":
            self._run("COMMIT")
        else:
            self.conn.commit()

    def create(self) -> None:
        """Create the bench tables."""
        when = "DATETIME(6)" if self.dialect == "mysql" else "TIMESTAMP"
        day = "TEXT" if self.dialect == "sqlite" else "DATE"
        self._begin()
        self._run(
            "CREATE TABLE bench_items (id VARCHAR(36) PRIMARY KEY, tenant_id VARCHAR(128) NOT NULL,"
            " item_key VARCHAR(128) NOT NULL, account_id VARCHAR(36) NOT NULL,"
            " order_id VARCHAR(128) NOT NULL, kind VARCHAR(16) NOT NULL,"
            " amount_minor BIGINT NOT NULL, currency CHAR(3) NOT NULL,"
            f" occurred_at {when} NOT NULL,"
            f" recorded_at {when} NOT NULL, statement_id VARCHAR(36) NOT NULL,"
            " request_hash CHAR(64) NOT NULL, basis VARCHAR(16) NOT NULL, order_total_minor BIGINT,"
            " run_id VARCHAR(128), status VARCHAR(16) NOT NULL, version INTEGER NOT NULL)"
        )
        for name in ("bench_statements", "bench_totals"):
            self._run(
                f"CREATE TABLE {name} (account_id VARCHAR(36) NOT NULL, currency CHAR(3) NOT NULL,"
                f" period_start {day} NOT NULL, total_minor BIGINT NOT NULL,"
                " item_count INTEGER NOT NULL, PRIMARY KEY (account_id, currency, period_start))"
            )
        self._run(
            "CREATE TABLE bench_balances (account VARCHAR(64) NOT NULL, currency CHAR(3) NOT NULL,"
            " balance_minor BIGINT NOT NULL, PRIMARY KEY (account, currency))"
        )
        self._commit()

    def _rows(self, data: DataSet, batch: int) -> Iterator[list[tuple[object, ...]]]:
        for chunk in data.batches(batch):
            yield [workload.raw_row(spec, self.text_times) for spec in chunk]

    def _insert_sql(self) -> str:
        marks = ", ".join([self.mark] * len(RAW_COLUMNS))
        return f"INSERT INTO bench_items ({', '.join(RAW_COLUMNS)}) VALUES ({marks})"

    def empty(self) -> None:
        """Remove every bench row (between repeats): TRUNCATE on servers, DELETE on SQLite."""
        names = ("bench_items", "bench_statements", "bench_totals", "bench_balances")
        self._begin()
        for name in names:
            self._run(f"DELETE FROM {name}" if self.dialect == "sqlite" else f"TRUNCATE {name}")
        self._commit()

    # the jobs
    def bulk(self, data: DataSet, batch: int) -> float:
        """executemany of every item row, one transaction per `batch` rows; seconds."""
        sql = self._insert_sql()
        seconds = 0.0
        for rows in self._rows(data, batch):
            start = perf_counter()
            self._begin()
            cur = self.conn.cursor()
            cur.executemany(sql, rows)
            cur.close()
            self._commit()
            seconds += perf_counter() - start
        return seconds

    def copy(self, data: DataSet, batch: int) -> float:
        """PostgreSQL COPY of every item row, one transaction per `batch` rows; seconds."""
        driver = self.conn.driver_connection
        statement = f"COPY bench_items ({', '.join(RAW_COLUMNS)}) FROM STDIN"
        seconds = 0.0
        for rows in self._rows(data, batch):
            start = perf_counter()
            with driver.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            driver.commit()
            seconds += perf_counter() - start
        return seconds

    def loop(self, data: DataSet) -> float:
        """One transaction per item: insert, upsert the statement, update the balance."""
        m = self.mark
        insert_item = self._insert_sql()
        if self.dialect == "mysql":
            upsert = (
                "INSERT INTO bench_statements VALUES"
                f" ({m}, {m}, {m}, {m}, 1) ON DUPLICATE KEY UPDATE"
                " total_minor = total_minor + VALUES(total_minor), item_count = item_count + 1"
            )
        else:
            upsert = (
                f"INSERT INTO bench_statements VALUES ({m}, {m}, {m}, {m}, 1)"
                " ON CONFLICT (account_id, currency, period_start) DO UPDATE SET"
                " total_minor = bench_statements.total_minor + excluded.total_minor,"
                " item_count = bench_statements.item_count + 1"
            )
        update_balance = (
            f"UPDATE bench_balances SET balance_minor = balance_minor + {m}"
            f" WHERE account = {m} AND currency = {m}"
        )
        self._begin()
        cur = self.conn.cursor()
        cur.executemany(
            f"INSERT INTO bench_balances VALUES ({m}, {m}, 0)",
            [(workload.raw_account_id(a), workload.CURRENCY) for a in range(data.accounts)],
        )
        cur.close()
        self._commit()
        work: list[tuple[tuple[object, ...], object]] = []
        for rows in self._rows(data, 5_000):
            for row in rows:
                occurred = row[8]
                day = occurred[:10] if isinstance(occurred, str) else _date(occurred)
                work.append((row, day))
        start = perf_counter()
        cur = self.conn.cursor()
        for row, day in work:
            self._begin()
            cur.execute(insert_item, row)
            cur.execute(upsert, (row[3], row[7], day, row[6]))
            cur.execute(update_balance, (row[6], row[3], row[7]))
            self._commit()
        cur.close()
        return perf_counter() - start

    def group_by(self) -> float:
        """Sum the bulk-loaded items into one row per account, currency and day; seconds."""
        day = (
            "substr(occurred_at, 1, 10)"
            if self.dialect == "sqlite"
            else "CAST(occurred_at AS DATE)"
        )
        sql = (
            "INSERT INTO bench_totals (account_id, currency, period_start, total_minor, item_count)"
            f" SELECT account_id, currency, {day}, SUM(amount_minor), COUNT(*) FROM bench_items"
            f" GROUP BY account_id, currency, {day}"
        )
        start = perf_counter()
        self._begin()
        self._run(sql)
        self._commit()
        return perf_counter() - start

    def count(self, table: str) -> int:
        """Rows in a table."""
        cur = self.conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        found = cur.fetchone()
        cur.close()
        if self.dialect != "sqlite":
            self.conn.commit()  # end the read's implicit transaction
        return int(found[0]) if found else 0


def _date(value: object) -> object:
    return value.date() if isinstance(value, datetime) else value


def raw_pragmas(foreign_keys: bool = False) -> list[str]:
    """The library's SQLite settings, for raw connections (bare tables have no foreign keys)."""
    from settlement_adapters.sqla.engine import SQLITE_PRAGMAS, sqlite_pragma_statements

    kept = {k: v for k, v in SQLITE_PRAGMAS.items() if foreign_keys or k != "foreign_keys"}
    return sqlite_pragma_statements(kept)


@contextmanager
def raw_db(backend: str, workdir: Path, label: str) -> Iterator[RawDb]:
    """A RawDb with fresh bench tables: a new SQLite file, or a scratch schema on a server.

    The in-memory adapter has no raw counterpart; it is compared with plain sqlite3.
    """
    dialect = "sqlite" if backend == "memory" else backend
    if dialect == "sqlite":
        conn = sqlite3.connect(workdir / f"raw-{label}.sqlite", isolation_level=None)
        for pragma in raw_pragmas():
            conn.execute(pragma)
        try:
            db = RawDb("sqlite", conn)
            db.create()
            yield db
        finally:
            conn.close()
        return
    from settlement_adapters.sqla.scratch import scratch_schema

    with scratch_schema(dialect, tables=False) as scratch, scratch_connection(scratch) as raw:
        db = RawDb(dialect, raw)
        db.create()
        yield db


@contextmanager
def scratch_connection(scratch: Scratch) -> Iterator[Any]:
    """A DB-API connection whose default schema is the scratch schema (never pooled again)."""
    raw = scratch.engine.raw_connection()
    try:
        cur = raw.cursor()
        if scratch.backend == "postgresql":
            cur.execute(f"SET search_path TO {scratch.schema}")
        else:
            cur.execute(f"USE {scratch.schema}")
        cur.close()
        raw.commit()
        yield raw
    finally:
        raw.invalidate()  # a connection with our search path never goes back to the pool


def median(values: list[float]) -> float:
    """The median of some timings."""
    return statistics.median(values)
