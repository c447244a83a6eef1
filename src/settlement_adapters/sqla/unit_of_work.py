"""The SQL unit of work: one database transaction per command.

New rows are buffered and written with executemany when a read needs them or
at commit; changed aggregates are written with an optimistic version check.
Statement totals and ledger balances are commutative, so they are written as
increments (`total = total + :delta`) that never conflict: one hot seller
cannot make everybody else's ingest retry (R-ING-4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

import attrs
from sqlalchemy import Connection, Engine, Select, Table, bindparam, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from settlement_adapters.sqla import mapping, tables
from settlement_adapters.sqla.bulk import execute_many, insert_values
from settlement_adapters.sqla.copy import COPY_FROM, copy_values
from settlement_adapters.sqla.increments import add_to_open, upsert_sums
from settlement_adapters.sqla.reads import fetch_all, fetch_values
from settlement_adapters.sqla.repositories import (
    OUTBOX_COLUMNS,
    SeriesWindow,
    SqlAccountRepository,
    SqlBillingItemRepository,
    SqlChannelEventRepository,
    SqlChargeRepository,
    SqlCheckpointRepository,
    SqlCollectionRepository,
    SqlDiscrepancyRepository,
    SqlFeeCalculationRepository,
    SqlFreezeRepository,
    SqlFundingRepository,
    SqlLedger,
    SqlOutbox,
    SqlPayoutRepository,
    SqlReleaseSummaryRepository,
    SqlStatementRepository,
    outbox_values,
)
from settlement_adapters.sqla.runs import SqlRunRepository, run_row
from settlement_adapters.sqla.versioned import update_guarded
from settlement_core.errors import ConcurrencyConflict, ValidationError
from settlement_core.ids import IdFactory, UuidV7Factory
from settlement_core.ledger import JournalTransaction, Seal
from settlement_core.lifecycle import StatementStatus
from settlement_core.model import Account, BillingItem, ChannelEvent, Event, Statement
from settlement_core.ports import to_message

ToRow = Callable[[Any], dict[str, Any]]

# Insert order respects what later rows refer to.
WRITERS: list[tuple[Table, ToRow]] = [
    (tables.accounts, mapping.account_row),
    (tables.statements, mapping.statement_row),
    (tables.billing_items, mapping.item_row),
    (tables.payouts, mapping.payout_row),
    (tables.release_summaries, mapping.release_row),
    (tables.fundings, mapping.funding_row),
    (tables.discrepancies, mapping.discrepancy_row),
    (tables.freezes, mapping.freeze_row),
    (tables.runs, run_row),
    (tables.charges, mapping.charge_row),
    (tables.collections, mapping.collection_row),
    (tables.fee_calculations, mapping.fee_calculation_row),
]
ROW_OF: dict[str, ToRow] = {table.name: to_row for table, to_row in WRITERS}
TABLE_OF: dict[str, Table] = {table.name: table for table, _ in WRITERS}
# Columns written as increments rather than overwritten (see the module docstring).
INCREMENTS: dict[str, tuple[str, ...]] = {tables.statements.name: ("total_minor", "item_count")}
# From this many rows on, PostgreSQL and MySQL apply increments and version-checked
# changes in one statement (increments.py, versioned.py); below it the per-row
# statements cost no more.
ARRAYS_FROM = 4
BALANCE = "balance_minor"
_TRANSACTION_COLUMNS = ("id", "tenant_id", "kind", "reference", "occurred_at", "reverses")
_ENTRY_COLUMNS = ("transaction_id", "account", "currency", "amount_minor")


@attrs.frozen
class Bump:
    """The changes of one tracked row (an entry of `tracked`) and its row once written."""

    entry: list[Any]
    after: dict[str, Any]
    deltas: dict[str, int]  # columns written as increments
    changed: dict[str, Any]  # columns overwritten, under a version check


R = TypeVar("R")


class _BuiltOnUse(Generic[R]):
    """A repository of the unit of work, built when first asked for.

    A command touches a few of the sixteen; building them all cost more than
    a lookup. Once built it sits in the instance's dict, so later reads are
    plain attribute reads.
    """

    def __init__(self, build: Callable[[SqlAlchemyUnitOfWork], R]) -> None:
        self.build = build
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, uow: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, uow: SqlAlchemyUnitOfWork, owner: type[Any]) -> R: ...

    def __get__(self, uow: SqlAlchemyUnitOfWork | None, owner: type[Any]) -> R | Self:
        if uow is None:
            return self
        built = self.build(uow)
        uow.__dict__[self.name] = built
        return built


class SqlAlchemyUnitOfWork:
    """A transaction on an engine, or inside a connection the host already has open."""

    accounts = _BuiltOnUse(SqlAccountRepository)
    items = _BuiltOnUse(SqlBillingItemRepository)
    statements = _BuiltOnUse(SqlStatementRepository)
    payouts = _BuiltOnUse(SqlPayoutRepository)
    releases = _BuiltOnUse(SqlReleaseSummaryRepository)
    fundings = _BuiltOnUse(SqlFundingRepository)
    channel_events = _BuiltOnUse(SqlChannelEventRepository)
    discrepancies = _BuiltOnUse(SqlDiscrepancyRepository)
    checkpoints = _BuiltOnUse(SqlCheckpointRepository)
    freezes = _BuiltOnUse(SqlFreezeRepository)
    runs = _BuiltOnUse(SqlRunRepository)
    charges = _BuiltOnUse(SqlChargeRepository)
    collections = _BuiltOnUse(SqlCollectionRepository)
    fee_calculations = _BuiltOnUse(SqlFeeCalculationRepository)
    ledger = _BuiltOnUse(SqlLedger)
    outbox = _BuiltOnUse(SqlOutbox)

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        connection: Connection | None = None,
        ids: IdFactory | None = None,
    ) -> None:
        if (engine is None) == (connection is None):
            raise ValueError("give exactly one of engine or connection")
        self.engine = engine
        self.external = connection
        self.ids = ids or UuidV7Factory()
        self._conn: Connection | None = None
        self._tx: Any = None
        self._begin_on_use = False
        self._reset()

    def _reset(self) -> None:
        # (table name, id) -> [object, row as last written or read; None while unwritten]
        self.tracked: dict[tuple[str, str], list[Any]] = {}
        self.recorded: list[Event] = []
        self.new_item_keys: dict[tuple[str, str], BillingItem] = {}
        self.known_keys: dict[tuple[str, str], BillingItem | None] = {}
        self.new_booked_by_order: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        self.new_accounts_by_shop: dict[tuple[str, str], Account] = {}
        self.new_statements_by_series: defaultdict[tuple[str, str], list[Statement]] = defaultdict(
            list
        )
        self.series_windows: dict[tuple[str, str], SeriesWindow] = {}
        self.new_transactions: dict[tuple[str, str], JournalTransaction] = {}
        self.balance_deltas: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.staged_transactions: list[JournalTransaction] = []
        self.staged_channel_events: list[ChannelEvent] = []
        self.staged_seals: list[Seal] = []
        self.sent: list[str] = []

    @property
    def conn(self) -> Connection:
        """The connection of the open transaction."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use it as a context manager")
        if self._begin_on_use:
            self._begin_on_use = False
            self._begin()
        return self._conn

    @property
    def dialect(self) -> str:
        """`sqlite`, `postgresql` or `mysql`."""
        bind = self.external if self.external is not None else self.engine
        assert bind is not None
        name = bind.dialect.name
        return "mysql" if name == "mariadb" else name

    @property
    def single_writer(self) -> bool:
        """Whether write transactions queue for one lock (SQLite) instead of locking rows."""
        bind = self.external if self.external is not None else self.engine
        assert bind is not None
        return bind.dialect.name == "sqlite"

    @property
    def locks_rows(self) -> bool:
        """Whether this backend takes row locks (SQLite has a single writer instead)."""
        return self.dialect in ("postgresql", "mysql")

    def __enter__(self) -> Self:
        """Begin the transaction (a savepoint inside the host's open transaction)."""
        if self.external is not None:
            self._conn = self.external
        else:
            assert self.engine is not None
            self._conn = self.engine.connect()
        try:
            # A busy database at BEGIN is a lost race like any other: retryable.
            with self._translated():
                self._begin()
        except BaseException:
            # __exit__ does not run when __enter__ raises: give the connection back here.
            if self.external is None:
                self._conn.close()
            self._conn = None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the connection."""
        try:
            self.rollback()
        finally:
            if self.external is None and self._conn is not None:
                self._conn.close()
            self._conn = None

    def record(self, event: Event) -> None:
        """Add an event carried by no single aggregate."""
        self.recorded.append(event)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise ConcurrencyConflict(
                f"a unique key was taken by another writer: {exc.orig}"
            ) from exc
        except DataError as exc:
            # A value the driver or server refuses (PostgreSQL: a NUL in text) is bad
            # input that got past the core's checks, not a crash.
            raise ValidationError(f"the database refused a value: {exc.orig}") from exc
        except OperationalError as exc:
            if _is_contention(exc):
                raise ConcurrencyConflict(
                    f"the database refused for contention: {exc.orig}"
                ) from exc
            raise

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Run a statement in this transaction; lost races surface as ConcurrencyConflict."""
        with self._translated():
            return self.conn.execute(statement, parameters)

    def fetch_all(self, statement: Select[Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """A built-once SELECT's rows as dicts, read on the driver's cursor."""
        with self._translated():
            return fetch_all(self.conn, statement, params)

    def fetch_values(self, statement: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """A built-once SELECT's rows as tuples, read on the driver's cursor."""
        with self._translated():
            return fetch_values(self.conn, statement, params)

    # tracking, used by the repositories
    def adopt(self, table: Table, row: Any, build: Callable[[Any], Any]) -> Any:
        """The tracked object for a loaded row (one object per row per unit of work)."""
        return self.adopt_row(table, row._mapping, build)

    def adopt_row(self, table: Table, row: Any, build: Callable[[Any], Any]) -> Any:
        """The tracked object for a row read as a mapping of column values (see `adopt`)."""
        key = (tables.TRACKING_NAME[table], row["id"])
        found = self.tracked.get(key)
        if found is not None:
            return found[0]
        obj = build(row)
        self.tracked[key] = [obj, ROW_OF[table.name](obj)]
        return obj

    def stage_new(self, table: Table, obj: Any) -> None:
        """Track a new object; it is inserted at the next flush."""
        self.tracked[(tables.TRACKING_NAME[table], obj.id)] = [obj, None]

    def flush(self) -> None:
        """Write buffered inserts, changed aggregates and staged postings."""
        with self._translated():
            self._flush()

    def _flush(self) -> None:
        new: defaultdict[str, list[list[Any]]] = defaultdict(list)
        known: list[tuple[str, list[Any]]] = []
        for (name, _), entry in self.tracked.items():
            if entry[1] is None:
                new[name].append(entry)
            else:
                known.append((name, entry))
        for table, to_row in WRITERS:
            entries = new.get(table.name)
            if entries:
                rows = []
                for entry in entries:
                    entry[0].version += 1
                    rows.append(to_row(entry[0]))
                self._insert_rows(table, rows)
                for entry, row in zip(entries, rows, strict=True):
                    entry[1] = row
        # Rows inserted just now are as their objects are: only earlier ones can differ.
        # Changes of one shape (table, columns) go out as one executemany.
        bumps: defaultdict[tuple[str, tuple[str, ...], tuple[str, ...]], list[Bump]] = defaultdict(
            list
        )
        for name, entry in known:
            bump = _changes(name, entry)
            if bump is not None:
                bumps[(name, tuple(sorted(bump.deltas)), tuple(sorted(bump.changed)))].append(bump)
        for (name, added, set_), group in bumps.items():
            self._write_changes(TABLE_OF[name], added, set_, group)
        if self.staged_transactions:
            self._write_postings()
        if self.staged_seals:
            rows = [attrs.asdict(seal) for seal in self.staged_seals]
            self._insert_rows(tables.journal_seals, rows)
            self.staged_seals = []
        if self.staged_channel_events:
            rows = [mapping.channel_event_row(e) for e in self.staged_channel_events]
            self._insert_rows(tables.channel_events, rows)
            self.staged_channel_events = []
        # Written rows are found in the database now; identity-mapped lookups stay valid.
        self.new_booked_by_order.clear()

    def _insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """INSERT rows given as dicts with the same keys (see `_insert_values`)."""
        self._insert_values(table, tuple(rows[0]), [row.values() for row in rows])

    def _insert_values(
        self, table: Table, columns: tuple[str, ...], lines: Sequence[Iterable[Any]]
    ) -> None:
        """INSERT with executemany, or COPY for a large batch on PostgreSQL."""
        if len(lines) >= COPY_FROM and self.dialect == "postgresql":
            copy_values(self.conn, table, columns, lines)
        else:
            insert_values(self.conn, table, columns, lines)

    def _write_changes(
        self, table: Table, added: tuple[str, ...], set_: tuple[str, ...], group: list[Bump]
    ) -> None:
        # Sorted by id, so two transactions writing the same rows lock them in one order.
        group.sort(key=lambda b: b.entry[0].id)
        if set_:
            # A change of any other column is checked against the version it was read at.
            lines = [
                (
                    b.entry[0].id,
                    b.entry[0].version,
                    *(b.deltas[col] for col in added),
                    *(b.changed[col] for col in set_),
                )
                for b in group
            ]
            written = self.write_guarded(table, "version", added, set_, lines)
        elif len(group) >= ARRAYS_FROM and self.locks_rows:
            deltas = [(b.entry[0].id, *(b.deltas[col] for col in added)) for b in group]
            with self._translated():
                written = add_to_open(self.conn, table, added, deltas, StatementStatus.OPEN.value)
        else:
            stmt = _increments_statement(table.name, added)
            adds = _bump_names(added)
            rows = [{"b_id": b.entry[0].id, **{n: b.deltas[c] for n, c in adds}} for b in group]
            # Already inside the flush's error translation: straight to the cursor.
            written = _counted_many(self.conn, stmt, rows)
        if written != len(group):
            raise ConcurrencyConflict(
                f"one of {len(group)} {table.name} was changed by another writer; retry the command"
            )
        for b in group:
            if set_:
                b.entry[0].version += 1
                b.after["version"] = b.entry[0].version
            b.entry[1] = b.after

    def write_guarded(
        self,
        table: Table,
        guard: str,
        added: tuple[str, ...],
        set_: tuple[str, ...],
        lines: Sequence[tuple[Any, ...]],
    ) -> int:
        """Apply lines (id, `guard`'s value, deltas of `added`, values of `set_`); rows changed.

        A row changes only while its `guard` column holds the value given, and
        its version goes up by one: one statement for all on PostgreSQL and
        MySQL from a few rows on (versioned.py), else one per row.
        """
        with self._translated():
            if len(lines) >= ARRAYS_FROM and self.locks_rows:
                return update_guarded(self.conn, table, guard, added, set_, lines)
            stmt = _guarded_statement(table.name, guard, added, set_)
            names = ("b_id", "b_guard", *(n for n, _ in _bump_names((*added, *set_))))
            rows = [dict(zip(names, line, strict=True)) for line in lines]
            return _counted_many(self.conn, stmt, rows)

    def _write_postings(self) -> None:
        staged = self.staged_transactions
        # Tuples in the columns' order: these two tables take three rows per item.
        self._insert_values(
            tables.journal_transactions,
            _TRANSACTION_COLUMNS,
            [(t.id, t.tenant_id, t.kind, t.reference, t.occurred_at, t.reverses) for t in staged],
        )
        self._insert_values(
            tables.journal_entries,
            _ENTRY_COLUMNS,
            [(t.id, e.account, e.currency, e.amount_minor) for t in staged for e in t.entries],
        )
        # Sorted, so two transactions touching the same balances lock them in one order.
        deltas = sorted((k, v) for k, v in self.balance_deltas.items() if v)
        if deltas:
            self._add_to_balances(deltas)
        self.staged_transactions = []
        self.new_transactions.clear()
        self.balance_deltas.clear()

    def _add_to_balances(self, deltas: list[tuple[tuple[str, str], int]]) -> None:
        if len(deltas) >= ARRAYS_FROM and self.dialect == "postgresql":
            rows = [(a, c, d) for (a, c), d in deltas]
            upsert_sums(self.conn, tables.ledger_balances, ("account", "currency"), BALANCE, rows)
            return
        named = [{"account": a, "currency": c, BALANCE: d} for (a, c), d in deltas]
        execute_many(self.conn, _balance_upsert(self.dialect), named)

    def commit(self) -> None:
        """Flush, write the events to the outbox, and commit the transaction."""
        with self._translated():
            self._flush()
            events: list[Event] = []
            for obj, _ in self.tracked.values():
                events.extend(obj.events)
            events.extend(self.recorded)
            messages = [to_message(event, self.ids.new_id()) for event in events]
            if messages:
                lines = [outbox_values(m) for m in messages]
                self._insert_values(tables.outbox, OUTBOX_COLUMNS, lines)
            if self.sent:
                self.conn.execute(
                    update(tables.outbox)
                    .where(tables.outbox.c.id == bindparam("message_id"))
                    .values(sent=True),
                    [{"message_id": m} for m in self.sent],
                )
            self._tx.commit()
        for obj, _ in self.tracked.values():
            obj.events.clear()
        self._reset()
        # A unit of work may commit more than once; each commit ends one transaction.
        # The next one begins when first used, so a command that commits and leaves
        # costs no empty transaction (on SQLite a BEGIN IMMEDIATE, i.e. the write lock).
        self._tx = None
        self._begin_on_use = True

    def _begin(self) -> None:
        conn = self._conn
        assert conn is not None
        if self.external is not None:
            self._tx = conn.begin_nested() if conn.in_transaction() else conn.begin()
        else:
            self._tx = conn.begin()

    def rollback(self) -> None:
        """Discard everything since the last commit."""
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()
        self._tx = None
        self._begin_on_use = False
        self._reset()


def _changes(name: str, entry: list[Any]) -> Bump | None:
    """What changed in a tracked row since it was read or written, if anything."""
    obj, before = entry
    after = ROW_OF[name](obj)
    if after == before:
        return None
    increments = {
        col: after[col] - before[col]
        for col in INCREMENTS.get(name, ())
        if after[col] != before[col]
    }
    changed = {
        col: value
        for col, value in after.items()
        if value != before[col] and col not in increments and col != "version"
    }
    if not changed and not increments:  # only the version differs: nothing to write
        entry[1] = after
        return None
    return Bump(entry, after, increments, changed)


def _counted_many(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> int:
    """A statement run for each row, rows changed in all (one executemany if it counts them).

    PyMySQL counts no rows per statement of an executemany: there, one at a time.
    """
    if conn.dialect.supports_sane_multi_rowcount:
        return execute_many(conn, statement, rows)
    return sum(execute_many(conn, statement, [row]) for row in rows)


@cache
def _bump_names(columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # (bind parameter, column) of a bump statement, named as `_bump_statement` binds them.
    return tuple((f"b_{col}", col) for col in columns)


# Built once: a statement object reused keeps its cache key, so SQLAlchemy neither
# rebuilds nor re-keys it on every command.
@cache
def _guarded_statement(name: str, guard: str, added: tuple[str, ...], set_: tuple[str, ...]) -> Any:
    table = TABLE_OF[name]
    values: dict[str, Any] = {
        col: table.c[col] + bindparam(f"b_{col}", type_=table.c[col].type) for col in added
    }
    values.update({col: bindparam(f"b_{col}", type_=table.c[col].type) for col in set_})
    values["version"] = table.c.version + 1
    guarded = table.c[guard] == bindparam("b_guard", type_=table.c[guard].type)
    return update(table).where(table.c.id == bindparam("b_id"), guarded).values(values)


@cache
def _increments_statement(name: str, added: tuple[str, ...]) -> Any:
    # Increments alone: only while the statement is still open (a close wins).
    table = TABLE_OF[name]
    values = {col: table.c[col] + bindparam(f"b_{col}", type_=table.c[col].type) for col in added}
    guard = table.c.status == StatementStatus.OPEN.value
    return update(table).where(table.c.id == bindparam("b_id"), guard).values(values)


@cache
def _balance_upsert(dialect: str) -> Any:
    table = tables.ledger_balances
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=["account", "currency"],
            set_={"balance_minor": table.c.balance_minor + pg.excluded.balance_minor},
        )
    if dialect == "mysql":
        my = mysql.insert(table)
        return my.on_duplicate_key_update(
            balance_minor=table.c.balance_minor + my.inserted.balance_minor
        )
    lite = sqlite.insert(table)
    return lite.on_conflict_do_update(
        index_elements=["account", "currency"],
        set_={"balance_minor": table.c.balance_minor + lite.excluded.balance_minor},
    )


def _is_contention(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in ("deadlock", "lock wait timeout", "database is locked", "could not serialize")
    )
