"""SQL repositories: Core statements over the unit of work's connection.

Reads that could miss buffered rows flush first; lookups that the unit of work
indexes itself (keys, shops, statement series, postings) do not, so a batch of
items is written with one executemany at commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import frozen
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    Table,
    Update,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    true,
    update,
)

from settlement_adapters.sqla import mapping, tables
from settlement_core.errors import ConcurrencyConflict, NotFound
from settlement_core.ledger import Entry, JournalRecord, JournalTransaction, Seal
from settlement_core.lifecycle import (
    AWAITING_ANSWER,
    UNPAID_STATEMENTS,
    UNRELEASED_PAYOUTS,
    BillingItemStatus,
    ChargeStatus,
    CollectionStatus,
    DiscrepancyStatus,
    FreezeStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    StatementStatus,
    destination,
    sources,
)
from settlement_core.model import (
    CLOSE_TRIGGER,
    Account,
    BillingItem,
    ChannelEvent,
    Charge,
    Collection,
    Discrepancy,
    FeeCalculation,
    Freeze,
    Funding,
    ItemKind,
    Payout,
    PayoutKind,
    ReleaseSummary,
    Statement,
)
from settlement_core.ports import (
    AccountDue,
    ChannelTotal,
    ClosedStatement,
    ItemFilter,
    LedgerAudit,
    OutboxMessage,
    Page,
    PayoutFilter,
    StatementFilter,
)

if TYPE_CHECKING:
    from settlement_adapters.sqla.unit_of_work import SqlAlchemyUnitOfWork

T = TypeVar("T")


class _Repository:
    table: Table
    build: Callable[[Any], Any]

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self.uow = uow

    def _one(self, lock: bool = False, **equal: Any) -> Any:
        """The row whose columns equal these values, if any (a statement built once)."""
        stmt = _matching(self.table, tuple(equal), lock and self.uow.locks_rows)
        return self._first(stmt, {f"p_{name}": value for name, value in equal.items()})

    def _first(self, stmt: Select[Any], params: dict[str, Any]) -> Any:
        """The first row of a built-once statement, as its tracked object."""
        rows = self.uow.fetch_all(stmt, params)
        return None if not rows else self.uow.adopt_row(self.table, rows[0], type(self).build)

    def _many(self, stmt: Select[Any], params: dict[str, Any] | None = None) -> list[Any]:
        build = type(self).build
        return [self.uow.adopt(self.table, row, build) for row in self.uow.execute(stmt, params)]

    def _fetched(self, stmt: Select[Any], params: dict[str, Any]) -> list[Any]:
        """The tracked objects of a built-once statement's rows, read on the driver's cursor."""
        build = type(self).build
        uow = self.uow
        return [uow.adopt_row(self.table, row, build) for row in uow.fetch_all(stmt, params)]

    def _locked(self, stmt: Select[Any]) -> list[Any]:
        # Two workers running the same job take disjoint rows instead of waiting.
        if self.uow.locks_rows:
            stmt = stmt.with_for_update(skip_locked=True)
        return self._many(stmt)

    def _tracked(self, obj_id: str) -> Any:
        found = self.uow.tracked.get((tables.TRACKING_NAME[self.table], obj_id))
        return None if found is None else found[0]

    def _get(self, tenant_id: str, obj_id: str, what: str) -> Any:
        obj = self._tracked(obj_id)
        if obj is None:
            obj = self._one(id=obj_id)
        if obj is None or obj.tenant_id != tenant_id:
            raise NotFound(f"{what} {obj_id!r} not found")
        return obj

    def _page(self, where: list[ColumnElement[bool]], after: str | None, limit: int) -> Page[Any]:
        self.uow.flush()
        if after is not None:
            where = [*where, self.table.c.id > after]
        stmt = _read(self.table).where(*where).order_by(self.table.c.id).limit(limit + 1)
        rows = self._many(stmt)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, rows[-1].id if more and rows else None)

    def add(self, obj: Any) -> None:
        """Stage a new aggregate."""
        self.uow.stage_new(self.table, obj)


def _range(column: Any, low: Any, high: Any) -> list[ColumnElement[bool]]:
    found = []
    if low is not None:
        found.append(column >= low)
    if high is not None:
        found.append(column <= high)
    return found


def _equal(table: Table, **values: Any) -> list[ColumnElement[bool]]:
    return [table.c[name] == value for name, value in values.items() if value is not None]


class SqlAccountRepository(_Repository):
    """Accounts; (tenant, shop id) is unique."""

    table = tables.accounts
    build = staticmethod(mapping.account_from)

    def add(self, account: Account) -> None:
        """Stage a new account."""
        super().add(account)
        self.uow.new_accounts_by_shop[(account.tenant_id, account.shop_id)] = account

    def get(self, tenant_id: str, account_id: str) -> Account:
        """The account, or NotFound."""
        found: Account = self._get(tenant_id, account_id, "account")
        return found

    def find_by_shop(self, tenant_id: str, shop_id: str) -> Account | None:
        """The account for a shop id, if any."""
        known = self.uow.new_accounts_by_shop.get((tenant_id, shop_id))
        if known is not None:
            return known
        uow = self.uow
        stmt, width = _shop_with_open_statements()
        rows = uow.fetch_values(stmt, {"p_tenant_id": tenant_id, "p_shop_id": shop_id})
        if not rows:
            return None
        account_keys = tables.accounts.c.keys()
        found: Account = uow.adopt_row(
            self.table, dict(zip(account_keys, rows[0][:width], strict=True)), type(self).build
        )
        uow.new_accounts_by_shop[(tenant_id, shop_id)] = found
        # The account's open statements come in the same query: the next lookup of
        # an ingest (the statement covering the item) is then mostly answered here.
        statement_keys = tables.statements.c.keys()
        for row in rows:
            if row[width] is None:
                continue  # no open statement: the outer join's empty side
            values = dict(zip(statement_keys, row[width:], strict=True))
            statement = uow.adopt_row(tables.statements, values, mapping.statement_from)
            series = uow.new_statements_by_series[(statement.account_id, statement.currency)]
            if not any(s is statement for s in series):
                series.append(statement)
        return found

    def read_ahead(self, account_ids: Sequence[str]) -> None:
        """Track these accounts, so that `get` finds them without a query each."""
        missing = [a for a in account_ids if self._tracked(a) is None]
        for length, params in _in_chunks(missing, self.uow.dialect):
            self._fetched(_accounts_by_id(length), params)

    def find_by_shops(self, tenant_id: str, shop_ids: Sequence[str]) -> dict[str, Account]:
        """The accounts of any of these shop ids, by shop id, in one query a chunk."""
        known = self.uow.new_accounts_by_shop
        found = {s: known[(tenant_id, s)] for s in shop_ids if (tenant_id, s) in known}
        missing = [s for s in dict.fromkeys(shop_ids) if s not in found]
        for length, params in _in_chunks(missing, self.uow.dialect, _PROBE_CHUNK):
            params["p_tenant_id"] = tenant_id
            for account in self._fetched(_tenant_any(self.table, "shop_id", length), params):
                found[account.shop_id] = account
                known[(tenant_id, account.shop_id)] = account
        return found


class SqlBillingItemRepository(_Repository):
    """Billing items; (tenant, key) is unique."""

    table = tables.billing_items
    build = staticmethod(mapping.item_from)

    def add(self, item: BillingItem) -> None:
        """Stage a new item (inserted in bulk at the next flush)."""
        uow = self.uow
        uow.stage_new(self.table, item)
        uow.new_item_keys[(item.tenant_id, item.key)] = item
        order = (item.tenant_id, item.account_id, item.order_id, item.currency)
        uow.new_booked_by_order[order] += item.amount_minor

    def get(self, tenant_id: str, item_id: str) -> BillingItem:
        """The item, or NotFound."""
        found: BillingItem = self._get(tenant_id, item_id, "billing item")
        return found

    def get_many(self, tenant_id: str, item_ids: Sequence[str]) -> list[BillingItem]:
        """The existing items among `item_ids`, in the order asked."""
        self.uow.flush()
        c = self.table.c
        rows = self._many(_read(self.table).where(c.tenant_id == tenant_id, c.id.in_(item_ids)))
        by_id = {item.id: item for item in rows}
        return [by_id[i] for i in item_ids if i in by_id]

    def find_by_key(self, tenant_id: str, key: str) -> BillingItem | None:
        """The item recorded under a key, if any."""
        new = self.uow.new_item_keys.get((tenant_id, key))
        if new is not None:
            return new
        if (tenant_id, key) in self.uow.known_keys:
            return self.uow.known_keys[(tenant_id, key)]
        found: BillingItem | None = self._one(tenant_id=tenant_id, item_key=key)
        return found

    def find_by_keys(self, tenant_id: str, keys: Sequence[str]) -> dict[str, BillingItem]:
        """The items recorded under any of these keys, by key, in a few queries."""
        found: dict[str, BillingItem] = {}
        unique = list(dict.fromkeys(keys))
        for length, params in _in_chunks(unique, self.uow.dialect, _PROBE_CHUNK):
            params["p_tenant_id"] = tenant_id
            for item in self._fetched(_tenant_any(self.table, "item_key", length), params):
                found[item.key] = item
        # Later single lookups of these keys need no query: absent stays absent
        # within this transaction, or the insert fails on the unique key.
        for key in unique:
            self.uow.known_keys[(tenant_id, key)] = found.get(key)
        return found

    def booked_for_order(
        self, tenant_id: str, account_id: str, order_id: str, currency: str
    ) -> int:
        """What one order has booked so far, in minor units."""
        c = self.table.c
        stored = self.uow.execute(
            select(func.coalesce(func.sum(c.amount_minor), 0)).where(
                c.account_id == account_id, c.order_id == order_id, c.currency == currency
            )
        ).scalar_one()
        order = (tenant_id, account_id, order_id, currency)
        return int(stored) + self.uow.new_booked_by_order.get(order, 0)

    def recount(self, statement_ids: Sequence[str]) -> dict[str, int]:
        """Sums of these statements' items in one GROUP BY, from the items themselves."""
        self.uow.flush()
        return self._sums(statement_ids, frozenset())

    def totals_of_kinds(
        self, statement_ids: Sequence[str], kinds: frozenset[ItemKind]
    ) -> dict[str, int]:
        """Sums of these statements' items of the given kinds, in one GROUP BY."""
        if not statement_ids or not kinds:
            return dict.fromkeys(statement_ids, 0)
        self.uow.flush()
        return self._sums(statement_ids, kinds)

    def _sums(self, statement_ids: Sequence[str], kinds: frozenset[ItemKind]) -> dict[str, int]:
        """Per statement, the sum of its items (of `kinds`, or all): a GROUP BY a chunk."""
        totals = dict.fromkeys(statement_ids, 0)
        for length, params in _in_chunks(list(totals), self.uow.dialect):
            for statement_id, total in self.uow.fetch_values(_sums_of(length, kinds), params):
                totals[statement_id] = int(total)
        return totals

    def move_by_statements(self, statement_ids: Sequence[str], trigger: str) -> int:
        """Move these statements' items: one UPDATE, or none at all for the close.

        Closing writes no item row: an item reads as statemented once its
        statement is closed (`status_on`), so a close costs a count of index
        entries, not a rewrite of every item row and its status indexes. A later
        trigger finds such an item still stored as pending.
        """
        if not statement_ids:
            return 0
        self.uow.flush()
        allowed = sources(BillingItemStatus, trigger)
        dest = destination(BillingItemStatus, trigger)
        chunks = _in_chunks(list(dict.fromkeys(statement_ids)), self.uow.dialect)
        moved = 0
        if trigger == CLOSE_TRIGGER:
            for length, params in chunks:
                moved += self.uow.fetch_values(_count_of(length, frozenset(allowed)), params)[0][0]
        else:
            stored = {s.value for s in allowed}
            if BillingItemStatus.STATEMENTED in allowed:
                # Items of these statements (never open ones) that are stored as pending.
                stored.add(BillingItemStatus.PENDING.value)
            kept = tuple(sorted(stored))
            for length, params in chunks:
                moved += self.uow.execute(_move_items(length, kept, dest.value), params).rowcount
        chosen = set(statement_ids)
        for (name, _), entry in self.uow.tracked.items():
            item = entry[0]
            if name == self.table.name and item.statement_id in chosen and item.status in allowed:
                item.status = dest
                if trigger != CLOSE_TRIGGER:
                    item.version += 1
                entry[1] = mapping.item_row(item)
        return int(moved)

    def query(self, where: ItemFilter, after: str | None, limit: int) -> Page[BillingItem]:
        """Items matching a filter, in id order after a cursor."""
        c = self.table.c
        conditions = _equal(
            self.table,
            tenant_id=where.tenant_id,
            account_id=where.account_id,
            statement_id=where.statement_id,
            order_id=where.order_id,
            currency=where.currency,
        )
        if where.status is not None:
            conditions.append(_item_status_is(where.status))
        conditions += _range(c.recorded_at, where.recorded_from, where.recorded_to)
        conditions += _range(c.occurred_at, where.occurred_from, where.occurred_to)
        conditions += _range(c.amount_minor, where.amount_min_minor, where.amount_max_minor)
        return self._page(conditions, after, limit)


class SqlStatementRepository(_Repository):
    """Statements; (account, currency, period start) is unique."""

    table = tables.statements
    build = staticmethod(mapping.statement_from)

    def add(self, statement: Statement) -> None:
        """Stage a new statement."""
        super().add(statement)
        series = (statement.account_id, statement.currency)
        self.uow.new_statements_by_series[series].append(statement)

    def get(self, tenant_id: str, statement_id: str) -> Statement:
        """The statement, or NotFound."""
        found: Statement = self._get(tenant_id, statement_id, "statement")
        return found

    def find_covering(self, account_id: str, currency: str, instant: datetime) -> Statement | None:
        """The statement whose period holds `instant`, if any."""
        series = (account_id, currency)
        for statement in self.uow.new_statements_by_series.get(series, ()):
            if statement.period.contains(instant):
                return statement
        window = self.uow.series_windows.get(series)
        if window is not None and window.start <= instant <= window.end:
            return None  # every statement overlapping the window is known
        found: Statement | None = self._first(
            _covering(), {"account_id": account_id, "currency": currency, "instant": instant}
        )
        if found is not None:
            # Periods never overlap, so a known statement answers later lookups.
            self.uow.new_statements_by_series[series].append(found)
        return found

    def neighbours(
        self, account_id: str, currency: str, instant: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """End of the latest period before `instant` and start of the first after it."""
        window = self.uow.series_windows.get((account_id, currency))
        if window is not None and window.start <= instant <= window.end:
            before, after = window.before, window.after
        else:
            before, after = self._stored_neighbours(account_id, currency, instant)
        for statement in self.uow.new_statements_by_series.get((account_id, currency), ()):
            if statement.period.end <= instant and (
                before is None or statement.period.end > before
            ):
                before = statement.period.end
            if statement.period.start > instant and (
                after is None or statement.period.start < after
            ):
                after = statement.period.start
        return before, after

    def _stored_neighbours(
        self, account_id: str, currency: str, instant: datetime
    ) -> tuple[datetime | None, datetime | None]:
        params = {"account_id": account_id, "currency": currency, "instant": instant}
        ((before, after),) = self.uow.fetch_values(_neighbours(), params)
        return _aware(before), _aware(after)

    def load_series(
        self, series: Sequence[tuple[str, str]], start: datetime, end: datetime
    ) -> None:
        """Read these series' statements overlapping [start, end] and the nearest outside it.

        A statement covering an instant of the window overlaps the window, so
        after this read a miss inside the window is a true miss, and the
        neighbours of an instant inside it are the loaded periods' bounds or
        the nearest bounds outside.
        """
        uow = self.uow
        wanted = [s for s in dict.fromkeys(series) if s not in uow.series_windows]
        by_account: dict[str, set[str]] = {}
        for account_id, currency in wanted:
            by_account.setdefault(account_id, set()).add(currency)
        before: dict[tuple[str, str], datetime | None] = {}
        after: dict[tuple[str, str], datetime | None] = {}
        for length, params in _in_chunks(list(by_account), self.uow.dialect):
            params["p_start"], params["p_end"] = start, end
            overlapping, ends_before, starts_after = _series_reads(length)
            for statement in self._fetched(overlapping, params):
                known = uow.new_statements_by_series[(statement.account_id, statement.currency)]
                if not any(s is statement for s in known):
                    known.append(statement)
            for account_id, currency, value in uow.fetch_values(ends_before, params):
                before[(account_id, currency)] = _aware(value)
            for account_id, currency, value in uow.fetch_values(starts_after, params):
                after[(account_id, currency)] = _aware(value)
        for key in wanted:
            uow.series_windows[key] = SeriesWindow(start, end, before.get(key), after.get(key))

    def due_to_close(self, as_of: datetime, limit: int) -> list[Statement]:
        """Open statements whose period ended by `as_of`, oldest first, locked."""
        self.uow.flush()
        c = self.table.c
        return self._locked(
            select(self.table)
            .where(_status_in(c.status, [StatementStatus.OPEN]), c.period_end <= as_of)
            .order_by(c.period_end, c.id)
            .limit(limit)
        )

    def close_due(self, as_of: datetime, limit: int, at: datetime) -> list[ClosedStatement]:
        """Pick (locked), recount and close due statements: three statements, no aggregates.

        Loading every statement as an aggregate to change three columns was most
        of close_cycles' own time; the lifecycle's "close" gives the legal sources
        and the destination of the bulk UPDATE instead.
        """
        uow = self.uow
        uow.flush()
        allowed = sources(StatementStatus, "close")
        dest = destination(StatementStatus, "close")
        c = self.table.c
        stmt = (
            select(c.id, c.tenant_id, c.status, c.total_minor)
            .where(_status_in(c.status, allowed), c.period_end <= as_of)
            .order_by(c.period_end, c.id)
            .limit(limit)
        )
        if uow.locks_rows:
            stmt = stmt.with_for_update(skip_locked=True)
        picked = uow.execute(stmt).all()
        if not picked:
            return []
        recounts = uow.items.recount([row.id for row in picked])
        # Each row closes only from the status it was picked in.
        lines = [
            (row.id, row.status, dest.value, at, recounts[row.id])
            for row in sorted(picked, key=lambda r: str(r.id))
        ]
        written = uow.write_guarded(self.table, "status", (), _CLOSE_SETS, lines)
        if written != len(lines):
            raise ConcurrencyConflict(
                f"one of {len(lines)} statements was closed by another writer; retry the command"
            )
        closed = [
            ClosedStatement(
                row.id, row.tenant_id, row.status, int(row.total_minor), recounts[row.id]
            )
            for row in picked
        ]
        self._closed_tracked(closed, dest, at)
        return closed

    def _closed_tracked(
        self, closed: list[ClosedStatement], dest: StatementStatus, at: datetime
    ) -> None:
        # An aggregate of these statements this unit of work holds sees the close too.
        for found in closed:
            entry = self.uow.tracked.get((tables.TRACKING_NAME[self.table], found.id))
            if entry is None:
                continue
            statement: Statement = entry[0]
            statement.status = dest
            statement.closed_at = at
            statement.recount_minor = found.recount_minor
            statement.version += 1
            entry[1] = mapping.statement_row(statement)

    def accounts_with_payable(self, as_of: datetime, after: str | None, limit: int) -> list[str]:
        """Accounts holding closed statements payable at `as_of`, in id order."""
        self.uow.flush()
        c = self.table.c
        where = [_status_in(c.status, [StatementStatus.CLOSED]), c.payable_at <= as_of]
        if after is not None:
            where.append(c.account_id > after)
        stmt = select(c.account_id).where(*where).distinct().order_by(c.account_id).limit(limit)
        return list(self.uow.execute(stmt).scalars())

    def payable_for_accounts(
        self, account_ids: Sequence[str], as_of: datetime
    ) -> dict[str, list[Statement]]:
        """These accounts' closed statements payable at `as_of`, in one locking query."""
        uow = self.uow
        uow.flush()
        found: dict[str, list[Statement]] = {}
        for length, params in _in_chunks(account_ids, self.uow.dialect):
            params["p_as_of"] = as_of
            stmt = _statements_of(length, StatementStatus.CLOSED, uow.locks_rows)
            for statement in self._fetched(stmt, params):
                found.setdefault(statement.account_id, []).append(statement)
        # Paying an account reads it: read the batch's accounts in the same pass.
        self.uow.accounts.read_ahead(list(found))
        return found

    def carried_for_accounts(self, account_ids: Sequence[str]) -> dict[str, list[Statement]]:
        """These accounts' carried-forward statements, by period, locked; one query a chunk."""
        uow = self.uow
        uow.flush()
        found: dict[str, list[Statement]] = {}
        for length, params in _in_chunks(account_ids, self.uow.dialect):
            stmt = _statements_of(length, StatementStatus.CARRIED_FORWARD, uow.locks_rows)
            for statement in self._fetched(stmt, params):
                found.setdefault(statement.account_id, []).append(statement)
        return found

    def due_by_account(self, tenant_id: str, payable_by: datetime) -> list[AccountDue]:
        """Per account and currency: unpaid statements payable by then, in one GROUP BY."""
        self.uow.flush()
        c, a = self.table.c, tables.accounts.c
        stmt = (
            select(c.account_id, a.payout_channel, c.currency, func.sum(c.total_minor))
            .join(tables.accounts, a.id == c.account_id)
            .where(
                c.tenant_id == tenant_id,
                _status_in(c.status, UNPAID_STATEMENTS),
                c.payable_at <= payable_by,
            )
            .group_by(c.account_id, a.payout_channel, c.currency)
            .order_by(c.account_id, c.currency)
        )
        return [
            AccountDue(account_id, channel, currency, int(total))
            for account_id, channel, currency, total in self.uow.execute(stmt)
        ]

    def query(self, where: StatementFilter, after: str | None, limit: int) -> Page[Statement]:
        """Statements matching a filter, in id order after a cursor."""
        conditions = _equal(
            self.table,
            tenant_id=where.tenant_id,
            account_id=where.account_id,
            status=where.status.value if where.status else None,
            currency=where.currency,
        )
        conditions += _range(self.table.c.period_start, where.period_from, where.period_to)
        return self._page(conditions, after, limit)


class SqlPayoutRepository(_Repository):
    """Payouts; (tenant, key) is unique."""

    table = tables.payouts
    build = staticmethod(mapping.payout_from)

    def get(self, tenant_id: str, payout_id: str) -> Payout:
        """The payout, or NotFound."""
        found: Payout = self._get(tenant_id, payout_id, "payout")
        return found

    def find_by_key(self, tenant_id: str, key: str) -> Payout | None:
        """The payout created for a statement set, if any."""
        self.uow.flush()
        found: Payout | None = self._one(tenant_id=tenant_id, payout_key=key)
        return found

    def find(self, payout_id: str) -> Payout | None:
        """A payout of any tenant."""
        found: Payout | None = self._tracked(payout_id)
        if found is None:
            found = self._one(id=payout_id)
        return found

    def get_many(self, tenant_id: str, payout_ids: Sequence[str]) -> list[Payout]:
        """The existing payouts among `payout_ids`, in the order asked (chunked reads)."""
        # No flush, as `get`: the payouts this unit of work holds, new or changed, come
        # from its identity map, and the others have nothing waiting to be written. A
        # flush here diffed every tracked object per summary funded: quadratic.
        c = self.table.c
        wanted = [p for p in payout_ids if self._tracked(p) is None]
        for at in range(0, len(wanted), 500):
            self._many(select(self.table).where(c.id.in_(wanted[at : at + 500])))
        found = (self._tracked(p) for p in payout_ids)
        return [p for p in found if p is not None and p.tenant_id == tenant_id]

    def _scan(self, where: list[ColumnElement[bool]], after: str | None, limit: int) -> list[Any]:
        self.uow.flush()
        c = self.table.c
        if after is not None:
            where = [*where, c.id > after]
        return self._locked(select(self.table).where(*where).order_by(c.id).limit(limit))

    def releasable(self, created_by: datetime, after: str | None, limit: int) -> list[Payout]:
        """Scheduled, created payouts in no release, in id order, locked."""
        c = self.table.c
        where = [
            c.status == PayoutStatus.CREATED.value,
            c.kind == PayoutKind.SCHEDULED.value,
            c.release_id.is_(None),
            c.created_at <= created_by,
        ]
        return self._scan(where, after, limit)

    def awaiting_answer(
        self, submitted_before: datetime, after: str | None, limit: int
    ) -> list[Payout]:
        """Ongoing or unknown payouts submitted at or before an instant, in id order."""
        # One scan per status, each in the order of the dispatch index (status, id),
        # merged here. With both in one IN list no index gives the id order, and a
        # planner that believed the statuses rare (statistics from before a release)
        # read and sorted every payout awaiting an answer for each batch. A row locked
        # beyond the page stays locked until this batch commits: the next one reads it.
        c = self.table.c
        found: list[Payout] = []
        for status in AWAITING_ANSWER:
            where = [c.status == status.value, c.submitted_at <= submitted_before]
            found += self._scan(where, after, limit)
        found.sort(key=lambda payout: payout.id)
        return found[:limit]

    def due_for_retry(self, as_of: datetime, after: str | None, limit: int) -> list[Payout]:
        """Failed payouts whose next attempt is due, in id order, locked."""
        c = self.table.c
        where = [c.status == PayoutStatus.FAILED.value, c.next_attempt_at <= as_of]
        return self._scan(where, after, limit)

    def unfunded_totals(self, tenant_id: str) -> list[ChannelTotal]:
        """Payouts waiting for approval or release with no money set aside."""
        self.uow.flush()
        c = self.table.c
        stmt = (
            select(c.channel, c.currency, func.sum(c.amount_minor), func.count())
            .where(
                c.tenant_id == tenant_id,
                c.status.in_([s.value for s in UNRELEASED_PAYOUTS]),
                c.funded.is_(False),
            )
            .group_by(c.channel, c.currency)
            .order_by(c.channel, c.currency)
        )
        return [
            ChannelTotal(channel, currency, int(total), int(count))
            for channel, currency, total, count in self.uow.execute(stmt)
        ]

    def query(self, where: PayoutFilter, after: str | None, limit: int) -> Page[Payout]:
        """Payouts matching a filter, in id order after a cursor."""
        c = self.table.c
        conditions = _equal(
            self.table,
            tenant_id=where.tenant_id,
            account_id=where.account_id,
            status=where.status.value if where.status else None,
            currency=where.currency,
            channel=where.channel,
            release_id=where.release_id,
        )
        conditions += _range(c.created_at, where.created_from, where.created_to)
        conditions += _range(c.amount_minor, where.amount_min_minor, where.amount_max_minor)
        return self._page(conditions, after, limit)


class SqlReleaseSummaryRepository(_Repository):
    """Release summaries."""

    table = tables.release_summaries
    build = staticmethod(mapping.release_from)

    def get(self, tenant_id: str, summary_id: str) -> ReleaseSummary:
        """The summary, or NotFound."""
        found: ReleaseSummary = self._get(tenant_id, summary_id, "release summary")
        return found

    def find(
        self,
        tenant_id: str,
        status: ReleaseSummaryStatus | None = None,
        channel: str | None = None,
        currency: str | None = None,
    ) -> list[ReleaseSummary]:
        """A tenant's summaries, oldest first."""
        self.uow.flush()
        where = _equal(
            self.table,
            tenant_id=tenant_id,
            status=status.value if status else None,
            channel=channel,
            currency=currency,
        )
        return self._many(select(self.table).where(*where).order_by(self.table.c.id))


class SqlFundingRepository(_Repository):
    """Fundings; (tenant, reference) is unique."""

    table = tables.fundings
    build = staticmethod(mapping.funding_from)

    def find_by_reference(self, tenant_id: str, reference: str) -> Funding | None:
        """The funding recorded under a reference, if any."""
        self.uow.flush()
        found: Funding | None = self._one(tenant_id=tenant_id, reference=reference)
        return found


class SqlDiscrepancyRepository(_Repository):
    """Discrepancies; (tenant, finding key) is unique, so a finding is recorded once."""

    table = tables.discrepancies
    build = staticmethod(mapping.discrepancy_from)

    def get(self, tenant_id: str, discrepancy_id: str) -> Discrepancy:
        """The discrepancy, or NotFound."""
        found: Discrepancy = self._get(tenant_id, discrepancy_id, "discrepancy")
        return found

    def find_by_key(self, tenant_id: str, key: str) -> Discrepancy | None:
        """The discrepancy recorded for a finding, if any."""
        self.uow.flush()
        found: Discrepancy | None = self._one(tenant_id=tenant_id, finding_key=key)
        return found

    def query(
        self, tenant_id: str, status: DiscrepancyStatus | None, after: str | None, limit: int
    ) -> Page[Discrepancy]:
        """A tenant's discrepancies in id order after a cursor."""
        where = _equal(self.table, tenant_id=tenant_id, status=status.value if status else None)
        found: Page[Discrepancy] = self._page(where, after, limit)
        return found


class SqlFreezeRepository(_Repository):
    """Freezes; (tenant, reference) is unique."""

    table = tables.freezes
    build = staticmethod(mapping.freeze_from)

    def find_by_reference(self, tenant_id: str, reference: str) -> Freeze | None:
        """The freeze made under a reference, if any."""
        self.uow.flush()
        found: Freeze | None = self._one(tenant_id=tenant_id, reference=reference)
        return found

    def expired(self, as_of: datetime, limit: int) -> list[Freeze]:
        """Held freezes past their expiry, oldest first, locked."""
        self.uow.flush()
        c = self.table.c
        stmt = (
            select(self.table)
            .where(c.status == FreezeStatus.HELD.value, c.expires_at <= as_of)
            .order_by(c.id)
            .limit(limit)
        )
        found: list[Freeze] = self._locked(stmt)
        return found

    def query(
        self,
        tenant_id: str,
        account_id: str | None,
        status: FreezeStatus | None,
        after: str | None,
        limit: int,
    ) -> Page[Freeze]:
        """A tenant's freezes in id order after a cursor."""
        where = _equal(
            self.table,
            tenant_id=tenant_id,
            account_id=account_id,
            status=status.value if status else None,
        )
        found: Page[Freeze] = self._page(where, after, limit)
        return found


class SqlChargeRepository(_Repository):
    """Charges; (tenant, reference) is unique."""

    table = tables.charges
    build = staticmethod(mapping.charge_from)

    def get(self, tenant_id: str, charge_id: str) -> Charge:
        """The charge, or NotFound."""
        found: Charge = self._get(tenant_id, charge_id, "charge")
        return found

    def find_by_reference(self, tenant_id: str, reference: str) -> Charge | None:
        """The charge proposed under a reference, if any."""
        self.uow.flush()
        found: Charge | None = self._one(tenant_id=tenant_id, reference=reference)
        return found

    def query(
        self, tenant_id: str, status: ChargeStatus | None, after: str | None, limit: int
    ) -> Page[Charge]:
        """A tenant's charges in id order after a cursor."""
        where = _equal(self.table, tenant_id=tenant_id, status=status.value if status else None)
        found: Page[Charge] = self._page(where, after, limit)
        return found


class SqlCollectionRepository(_Repository):
    """Collections; (tenant, key) is unique."""

    table = tables.collections
    build = staticmethod(mapping.collection_from)

    def get(self, tenant_id: str, collection_id: str) -> Collection:
        """The collection, or NotFound."""
        found: Collection = self._get(tenant_id, collection_id, "collection")
        return found

    def query(
        self,
        tenant_id: str,
        account_id: str | None,
        status: CollectionStatus | None,
        after: str | None,
        limit: int,
    ) -> Page[Collection]:
        """A tenant's collections in id order after a cursor."""
        where = _equal(
            self.table,
            tenant_id=tenant_id,
            account_id=account_id,
            status=status.value if status else None,
        )
        found: Page[Collection] = self._page(where, after, limit)
        return found


class SqlFeeCalculationRepository(_Repository):
    """Fee calculations; (tenant, order id, sequence) is unique."""

    table = tables.fee_calculations
    build = staticmethod(mapping.fee_calculation_from)

    def find(self, tenant_id: str, order_id: str, sequence: int) -> FeeCalculation | None:
        """The calculation of one order event, if any."""
        self.uow.flush()
        found: FeeCalculation | None = self._one(
            tenant_id=tenant_id, order_id=order_id, sequence=sequence
        )
        return found

    def for_order(self, tenant_id: str, order_id: str) -> list[FeeCalculation]:
        """Every calculation of an order, by sequence."""
        self.uow.flush()
        c = self.table.c
        return self._many(
            select(self.table)
            .where(c.tenant_id == tenant_id, c.order_id == order_id)
            .order_by(c.sequence)
        )


class SqlCheckpointRepository:
    """Job checkpoints: an insert for a first value, a guarded update after."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self.uow = uow

    def get(self, tenant_id: str, name: str) -> str | None:
        """The stored value."""
        c = tables.checkpoints.c
        stmt = select(c.value).where(c.tenant_id == tenant_id, c.name == name)
        found: str | None = self.uow.execute(stmt).scalar()
        return found

    def put(self, tenant_id: str, name: str, value: str, expected: str | None) -> None:
        """Compare-and-set now, inside the transaction (a lost race raises ConcurrencyConflict)."""
        k = tables.checkpoints
        if expected is None:
            self.uow.execute(insert(k).values(tenant_id=tenant_id, name=name, value=value))
            return
        stmt = (
            update(k)
            .where(k.c.tenant_id == tenant_id, k.c.name == name, k.c.value == expected)
            .values(value=value)
        )
        if self.uow.execute(stmt).rowcount != 1:
            raise ConcurrencyConflict(f"checkpoint {name} of {tenant_id} moved; run the job again")


class SqlChannelEventRepository:
    """Channel answers; (channel, nonce) is unique, so a replayed callback fails to insert."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self.uow = uow

    def add(self, event: ChannelEvent) -> None:
        """Stage an answer; it is inserted at the next flush."""
        self.uow.staged_channel_events.append(event)

    def nonce_seen(self, channel: str, nonce: str) -> bool:
        """Whether a callback with this nonce was accepted (or is staged)."""
        if any(e.channel == channel and e.nonce == nonce for e in self.uow.staged_channel_events):
            return True
        return bool(self.uow.fetch_values(_nonce(), {"p_channel": channel, "p_nonce": nonce}))

    def for_payout(self, tenant_id: str, payout_id: str) -> list[ChannelEvent]:
        """The answers about one payout, oldest first."""
        self.uow.flush()
        c = tables.channel_events.c
        stmt = (
            select(tables.channel_events)
            .where(c.tenant_id == tenant_id, c.payout_id == payout_id)
            .order_by(c.id)
        )
        return [mapping.channel_event_from(r._mapping) for r in self.uow.execute(stmt)]


class SqlLedger:
    """The journal, with balances cached per (ledger account, currency)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self.uow = uow

    def post(self, transaction: JournalTransaction) -> None:
        """Stage a balanced transaction; (kind, reference) is unique.

        A posting already in the database is refused by its unique key when the
        transaction is written (ConcurrencyConflict), which saves a query per post.
        """
        if (transaction.kind, transaction.reference) in self.uow.new_transactions:
            raise ConcurrencyConflict(
                f"{transaction.kind} for {transaction.reference} was already posted"
            )
        uow = self.uow
        uow.staged_transactions.append(transaction)
        uow.new_transactions[(transaction.kind, transaction.reference)] = transaction
        for entry in transaction.entries:
            uow.balance_deltas[(entry.account, entry.currency)] += entry.amount_minor

    def _load(self, where: ColumnElement[bool]) -> list[JournalTransaction]:
        t, e = tables.journal_transactions, tables.journal_entries
        heads = self.uow.execute(select(t).where(where).order_by(t.c.id)).all()
        if not heads:
            return []
        legs: dict[str, list[Entry]] = {h.id: [] for h in heads}
        ids = list(legs)
        for at in range(0, len(ids), 500):
            chunk = ids[at : at + 500]
            rows = self.uow.execute(select(e).where(e.c.transaction_id.in_(chunk)).order_by(e.c.id))
            for row in rows:
                legs[row.transaction_id].append(
                    Entry(row.account, row.currency, int(row.amount_minor))
                )
        return [
            JournalTransaction(
                id=h.id,
                tenant_id=h.tenant_id,
                kind=h.kind,
                reference=h.reference,
                occurred_at=h.occurred_at,
                entries=tuple(legs[h.id]),
                reverses=h.reverses,
            )
            for h in heads
        ]

    def get(self, transaction_id: str) -> JournalTransaction:
        """A posted (or staged) transaction, or NotFound."""
        for transaction in self.uow.staged_transactions:
            if transaction.id == transaction_id:
                return transaction
        found = self._load(tables.journal_transactions.c.id == transaction_id)
        if not found:
            raise NotFound(f"journal transaction {transaction_id!r} not found")
        return found[0]

    def find(self, kind: str, reference: str) -> JournalTransaction | None:
        """The transaction of a kind for a reference, if any."""
        staged = self.uow.new_transactions.get((kind, reference))
        if staged is not None:
            return staged
        t = tables.journal_transactions
        found = self._load(and_(t.c.kind == kind, t.c.reference == reference))
        return found[0] if found else None

    def balance(self, account: str, currency: str) -> int:
        """The sum of an account's entries in one currency (cached balance + staged)."""
        rows = self.uow.fetch_values(_balance(), {"account": account, "currency": currency})
        stored = rows[0][0] if rows else None
        return int(stored or 0) + self.uow.balance_deltas.get((account, currency), 0)

    def balances(self, account: str) -> dict[str, int]:
        """An account's non-zero balances per currency."""
        b = tables.ledger_balances
        found: dict[str, int] = {
            row.currency: int(row.balance_minor)
            for row in self.uow.execute(select(b).where(b.c.account == account))
        }
        for (name, currency), delta in self.uow.balance_deltas.items():
            if name == account:
                found[currency] = found.get(currency, 0) + delta
        return {c: v for c, v in found.items() if v}

    def balances_of(self, accounts: Sequence[str]) -> dict[str, dict[str, int]]:
        """The non-zero balances per currency of these ledger accounts, one query a chunk."""
        found: dict[str, dict[str, int]] = {account: {} for account in accounts}
        for length, params in _in_chunks(list(found), self.uow.dialect):
            for account, currency, amount in self.uow.fetch_values(_balances_of(length), params):
                found[account][currency] = int(amount)
        for (name, currency), delta in self.uow.balance_deltas.items():
            mine = found.get(name)
            if mine is not None and delta:
                mine[currency] = mine.get(currency, 0) + delta
        return {a: {c: v for c, v in per.items() if v} for a, per in found.items()}

    def by_references(self, tenant_id: str, references: Sequence[str]) -> list[JournalTransaction]:
        """A tenant's transactions about any of these objects, in posting order."""
        self.uow.flush()
        t = tables.journal_transactions
        wanted = sorted(set(references))
        found: list[JournalTransaction] = []
        for at in range(0, len(wanted), 500):
            chunk = wanted[at : at + 500]
            found.extend(self._load(and_(t.c.tenant_id == tenant_id, t.c.reference.in_(chunk))))
        return sorted(found, key=lambda tx: tx.id)

    def unsealed(self, tenant_id: str, limit: int) -> list[JournalRecord]:
        """A tenant's transactions with no seal, in id order, as stored."""
        self.uow.flush()
        t, k = tables.journal_transactions, tables.journal_seals
        stmt = (
            select(t)
            .outerjoin(k, k.c.transaction_id == t.c.id)
            .where(t.c.tenant_id == tenant_id, k.c.transaction_id.is_(None))
            .order_by(t.c.id)
            .limit(limit)
        )
        return self._records(self.uow.execute(stmt).all())

    def last_seal(self, tenant_id: str) -> Seal | None:
        """The tip of a tenant's chain."""
        self.uow.flush()
        k = tables.journal_seals
        stmt = select(k).where(k.c.tenant_id == tenant_id).order_by(k.c.seq.desc()).limit(1)
        row = self.uow.execute(stmt).first()
        return None if row is None else _seal(row)

    def add_seals(self, seals: Sequence[Seal]) -> None:
        """Stage seals; their unique keys refuse a chain extended meanwhile."""
        self.uow.staged_seals.extend(seals)

    def sealed(
        self, tenant_id: str, after_seq: int, limit: int
    ) -> list[tuple[Seal, JournalRecord | None]]:
        """Seals after `after_seq` with their records as stored now."""
        self.uow.flush()
        t, k = tables.journal_transactions, tables.journal_seals
        stmt = (
            select(k)
            .where(k.c.tenant_id == tenant_id, k.c.seq > after_seq)
            .order_by(k.c.seq)
            .limit(limit)
        )
        seals = [_seal(row) for row in self.uow.execute(stmt)]
        ids = [s.transaction_id for s in seals]
        heads = self.uow.execute(select(t).where(t.c.id.in_(ids))).all() if ids else []
        records = {r.id: r for r in self._records(heads)}
        return [(s, records.get(s.transaction_id)) for s in seals]

    def _records(self, heads: Sequence[Any]) -> list[JournalRecord]:
        e = tables.journal_entries
        legs: dict[str, list[tuple[str, str, int]]] = {h.id: [] for h in heads}
        ids = list(legs)
        for at in range(0, len(ids), 500):
            rows = self.uow.execute(
                select(e).where(e.c.transaction_id.in_(ids[at : at + 500])).order_by(e.c.id)
            )
            for row in rows:
                legs[row.transaction_id].append((row.account, row.currency, int(row.amount_minor)))
        return [
            JournalRecord(
                h.id,
                h.tenant_id,
                h.kind,
                h.reference,
                h.occurred_at,
                h.reverses,
                tuple(legs[h.id]),
            )
            for h in heads
        ]

    def audit(self, tenant_id: str | None = None) -> LedgerAudit:
        """Unbalanced transactions and entry sums per account, each in one GROUP BY."""
        self.uow.flush()
        t, e, b = tables.journal_transactions, tables.journal_entries, tables.ledger_balances
        joined = e.join(t, t.c.id == e.c.transaction_id)
        scope = [t.c.tenant_id == tenant_id] if tenant_id is not None else []
        total = func.sum(e.c.amount_minor)
        off = (
            select(e.c.transaction_id, e.c.currency, total)
            .select_from(joined)
            .where(*scope)
            .group_by(e.c.transaction_id, e.c.currency)
            .having(total != 0)
            .order_by(e.c.transaction_id, e.c.currency)
        )
        unbalanced = tuple((tx, ccy, int(x)) for tx, ccy, x in self.uow.execute(off))
        per_account = (
            select(e.c.account, e.c.currency, total)
            .select_from(joined)
            .where(*scope)
            .group_by(e.c.account, e.c.currency)
        )
        sums = {(a, c): int(x) for a, c, x in self.uow.execute(per_account)}
        cached: dict[tuple[str, str], int] = {}
        accounts = sorted({a for a, _ in sums})
        for at in range(0, len(accounts), 500):
            rows = self.uow.execute(select(b).where(b.c.account.in_(accounts[at : at + 500])))
            cached.update({(r.account, r.currency): int(r.balance_minor) for r in rows})
        return LedgerAudit(unbalanced, sums, {key: cached.get(key, 0) for key in sums})

    def transactions(self, tenant_id: str | None = None) -> list[JournalTransaction]:
        """Every posted transaction, in posting order."""
        self.uow.flush()
        t = tables.journal_transactions
        where = t.c.tenant_id == tenant_id if tenant_id is not None else t.c.id.is_not(None)
        return self._load(where)


def _seal(row: Any) -> Seal:
    return Seal(row.transaction_id, row.tenant_id, int(row.seq), row.prev_hash, row.hash)


class SqlOutbox:
    """Outbox rows, written by the unit of work on commit."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self.uow = uow

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Write messages in the current transaction."""
        if messages:
            self.uow.execute(tables.outbox.insert(), [outbox_row(m) for m in messages])

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Messages not yet sent, oldest first."""
        o = tables.outbox
        rows = self.uow.execute(select(o).where(o.c.sent.is_(False)).order_by(o.c.id).limit(limit))
        return [
            OutboxMessage(
                id=r.id,
                tenant_id=r.tenant_id,
                name=r.name,
                payload=r.payload,
                created_at=r.created_at,
            )
            for r in rows
        ]

    def mark_sent(self, message_ids: Sequence[str]) -> None:
        """Record delivery on commit."""
        self.uow.sent.extend(message_ids)


OUTBOX_COLUMNS = ("id", "tenant_id", "name", "payload", "created_at", "sent")


def outbox_values(message: OutboxMessage) -> tuple[Any, ...]:
    """An outbox message's column values, in the order of OUTBOX_COLUMNS (not yet sent)."""
    return (message.id, message.tenant_id, message.name, message.payload, message.created_at, False)


def outbox_row(message: OutboxMessage) -> dict[str, Any]:
    """Columns of an outbox message."""
    return dict(zip(OUTBOX_COLUMNS, outbox_values(message), strict=True))


@frozen
class SeriesWindow:
    """What a unit of work read of one statement series: [start, end] and the bounds outside."""

    start: datetime
    end: datetime
    before: datetime | None  # latest period end at or before `start`
    after: datetime | None  # earliest period start after `end`


# What closing a statement writes (see `SqlStatementRepository.close_due`).
_CLOSE_SETS = ("status", "closed_at", "recount_minor")


def _status_in(column: ColumnElement[str], statuses: Iterable[StrEnum]) -> ColumnElement[bool]:
    """`column` holds one of these enum values (statuses, item kinds), as literals in the SQL.

    A partial index (the due statements', WHERE status = 'open') serves a query
    only if the planner sees the index's condition in the query's: PostgreSQL
    does not through a parameter in a generic plan. SQLite looks at the value
    bound, and so compiles the statement again at every execution: a shop's
    account read with its open statements took 70 µs instead of 15.
    """
    values = sorted(s.value for s in statuses)
    if len(values) == 1:
        return column == literal_column(f"'{values[0]}'", String)
    return column.in_([literal_column(f"'{v}'", String) for v in values])


def _chunks(values: Sequence[T], size: int = 500) -> list[Sequence[T]]:
    return [values[at : at + size] for at in range(0, len(values), size)]


# An IN list of up to a chunk goes out padded to one of a few lengths, repeating its
# last value (which finds nothing more): each length is then one statement built
# once, read on the driver's cursor like the single-row lookups. PostgreSQL takes
# the values as one array instead (length ANY_ARRAY): psycopg re-parses a query of
# more than 50 parameters on every execute, and the server plans a long IN list
# on every execute too.
_IN_LENGTHS = (1, 4, 16, 64, 256, 500)
ANY_ARRAY = 0
_ARRAY_CHUNK = 10_000  # a whole batch: an array is one parameter however long
# Values per LATERAL lookup (`_tenant_any`): the planner costs a probe of the items at
# about 17, and from a cost of 100,000 PostgreSQL compiles the query before running it
# (JIT: 7 ms for 12,000 keys, 47 ms in all, against 14 ms for 4,000 keys without).
_PROBE_CHUNK = 4_000


def _in_chunks(
    values: Sequence[Any], dialect: str, array_chunk: int = _ARRAY_CHUNK
) -> list[tuple[int, dict[str, Any]]]:
    """Per chunk of `values`: the statement length to use, and the chunk's parameters."""
    if dialect == "postgresql":
        return [(ANY_ARRAY, {"p_in": list(chunk)}) for chunk in _chunks(values, array_chunk)]
    return [_in_params(chunk) for chunk in _chunks(values)]


def _in_params(values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    length = next(n for n in _IN_LENGTHS if n >= len(values))
    padded = [*values, *([values[-1]] * (length - len(values)))]
    return length, {f"p_in_{at}": value for at, value in enumerate(padded)}


def _one_of(column: ColumnElement[Any], length: int) -> ColumnElement[bool]:
    """`column` is one of the values `_in_chunks` gave for this length."""
    if length == ANY_ARRAY:
        return column == any_(bindparam("p_in", type_=ARRAY(column.type)))
    return column.in_([bindparam(f"p_in_{at}") for at in range(length)])


def _within_array(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """`column` lies between the least and the greatest of the p_in array, in its collation.

    Redundant with `column = ANY(p_in)`, and there for the planner: statistics
    taken while every statement was open say none is closed, and PostgreSQL then
    scans every closed statement on the (status, account, payable) index for a
    batch's accounts. With the bounds the same index scans only the batch's range.
    """
    array = bindparam("p_in", type_=ARRAY(column.type))
    values = func.unnest(array).table_valued("v").render_derived()
    least = select(func.min(values.c.v)).scalar_subquery()
    greatest = select(func.max(values.c.v)).scalar_subquery()
    return column.between(least, greatest)


@cache
def _sums_of(length: int, kinds: frozenset[ItemKind]) -> Select[Any]:
    """Some statements' item sums (of these kinds, or of all) by statement."""
    c = tables.billing_items.c
    where = [_one_of(c.statement_id, length)]
    if kinds:
        where.append(_status_in(c.kind, kinds))
    return select(c.statement_id, func.sum(c.amount_minor)).where(*where).group_by(c.statement_id)


@cache
def _move_items(length: int, stored: tuple[str, ...], dest: str) -> Update:
    """Some statements' items stored in one of `stored` move to `dest` (a callback's payout)."""
    c = tables.billing_items.c
    return (
        update(tables.billing_items)
        .where(_one_of(c.statement_id, length), c.status.in_(stored))
        .values(status=dest, version=c.version + 1)
    )


@cache
def _nonce() -> Select[Any]:
    c = tables.channel_events.c
    return select(c.id).where(c.channel == bindparam("p_channel"), c.nonce == bindparam("p_nonce"))


@cache
def _count_of(length: int, statuses: frozenset[BillingItemStatus]) -> Select[Any]:
    """How many items of some statements are in these statuses."""
    c = tables.billing_items.c
    where = [_one_of(c.statement_id, length), _status_in(c.status, statuses)]
    return select(func.count()).where(*where)


@cache
def _accounts_by_id(length: int) -> Select[Any]:
    return select(tables.accounts).where(_one_of(tables.accounts.c.id, length))


@cache
def _statements_of(length: int, status: StatementStatus, lock: bool) -> Select[Any]:
    """Some accounts' statements in one status (payable by p_as_of when closed), by period."""
    c = tables.statements.c
    where = [_one_of(c.account_id, length), _status_in(c.status, [status])]
    if length == ANY_ARRAY:
        where.append(_within_array(c.account_id))
    if status is StatementStatus.CLOSED:
        where.append(c.payable_at <= bindparam("p_as_of", type_=c.payable_at.type))
    stmt = (
        select(tables.statements).where(*where).order_by(c.account_id, c.period_start, c.currency)
    )
    if not lock:
        return stmt
    # Two workers paying out take disjoint accounts; carried statements are waited for.
    return stmt.with_for_update(skip_locked=status is StatementStatus.CLOSED)


@cache
def _balances_of(length: int) -> Select[Any]:
    b = tables.ledger_balances.c
    return select(b.account, b.currency, b.balance_minor).where(_one_of(b.account, length))


def _aware(value: datetime | None) -> datetime | None:
    # Should an aggregate come back without the column type, its value is naive UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@cache
def _read(table: Table) -> Select[Any]:
    """What reading a table's aggregates selects: an item brings its statement's status."""
    return ITEM_READ if table is tables.billing_items else select(table)


# Statements built once and reused with new parameters: building a select and its
# cache key costs several times what executing a cached one does.
@cache
def _matching(table: Table, columns: tuple[str, ...], lock: bool) -> Select[Any]:
    stmt = _read(table).where(*(table.c[name] == bindparam(f"p_{name}") for name in columns))
    return stmt.with_for_update() if lock else stmt


@cache
def _tenant_any(table: Table, any_of: str, length: int) -> Select[Any]:
    """A tenant's rows whose `any_of` is one of a padded IN list (see `_in_chunks`).

    On PostgreSQL, one lookup per value on the (tenant, value) unique index, in a
    LATERAL subquery that the planner cannot turn into a scan. A table never
    analyzed looks to it as if a tenant held 0.5% of its rows, and it read every
    row of the tenant through a tenant index, filtering by key: a batch's lookup
    of 2,000 keys in a million items took 241 ms, and grew with the table.
    """
    c = table.c
    tenant = c.tenant_id == bindparam("p_tenant_id")
    if length != ANY_ARRAY:
        return _read(table).where(tenant, _one_of(c[any_of], length))
    wanted = (
        func.unnest(bindparam("p_in", type_=ARRAY(c[any_of].type)))
        .table_valued("value")
        .render_derived("wanted")
    )
    # LIMIT 1 keeps the subquery a subquery: each value is at most one row anyway.
    found = _read(table).where(tenant, c[any_of] == wanted.c.value).limit(1).lateral("found")
    return select(found).select_from(wanted).join(found, true())


@cache
def _balance() -> Select[Any]:
    b = tables.ledger_balances.c
    return select(b.balance_minor).where(
        b.account == bindparam("account"), b.currency == bindparam("currency")
    )


@cache
def _shop_with_open_statements() -> tuple[Select[Any], int]:
    """A shop's account with its open statements (one row each, or one empty) and its width.

    A known statement answers `find_covering` for any instant in its period
    (periods never overlap); a miss still queries, so a closed statement
    covering the instant is found as before.
    """
    a, s = tables.accounts, tables.statements
    joined = a.outerjoin(
        s, and_(s.c.account_id == a.c.id, _status_in(s.c.status, [StatementStatus.OPEN]))
    )
    stmt = (
        select(a, s)
        .select_from(joined)
        .where(a.c.tenant_id == bindparam("p_tenant_id"), a.c.shop_id == bindparam("p_shop_id"))
    )
    return stmt, len(a.c)


@cache
def _covering() -> Select[Any]:
    c = tables.statements.c
    return select(tables.statements).where(
        c.account_id == bindparam("account_id"),
        c.currency == bindparam("currency"),
        c.period_start <= bindparam("instant"),
        c.period_end > bindparam("instant"),
    )


@cache
def _neighbours() -> Select[Any]:
    c = tables.statements.c
    series = [c.account_id == bindparam("account_id"), c.currency == bindparam("currency")]
    return select(
        select(func.max(c.period_end))
        .where(*series, c.period_end <= bindparam("instant"))
        .scalar_subquery(),
        select(func.min(c.period_start))
        .where(*series, c.period_start > bindparam("instant"))
        .scalar_subquery(),
    )


@cache
def _series_reads(length: int) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """Statements of some accounts overlapping [start, end], and the nearest bounds outside."""
    c = tables.statements.c
    mine = _one_of(c.account_id, length)
    start = bindparam("p_start", type_=c.period_end.type)
    end = bindparam("p_end", type_=c.period_start.type)
    overlapping = select(tables.statements).where(mine, c.period_end > start, c.period_start <= end)
    ends_before = (
        select(c.account_id, c.currency, func.max(c.period_end))
        .where(mine, c.period_end <= start)
        .group_by(c.account_id, c.currency)
    )
    starts_after = (
        select(c.account_id, c.currency, func.min(c.period_start))
        .where(mine, c.period_start > end)
        .group_by(c.account_id, c.currency)
    )
    return overlapping, ends_before, starts_after


# Items are read with their statement's status, from which a pending item's
# "statemented" is derived (see `SqlBillingItemRepository.move_by_statements`).
ITEM_READ = select(
    tables.billing_items, tables.statements.c.status.label("statement_status")
).join_from(
    tables.billing_items,
    tables.statements,
    tables.statements.c.id == tables.billing_items.c.statement_id,
)


def _item_status_is(status: BillingItemStatus) -> ColumnElement[bool]:
    """The filter matching items whose status, as `status_on` derives it, is `status`."""
    i, s = tables.billing_items.c, tables.statements.c
    still_open = _status_in(s.status, [StatementStatus.OPEN])
    pending = i.status == BillingItemStatus.PENDING.value
    if status is BillingItemStatus.PENDING:
        return and_(pending, still_open)
    if status is BillingItemStatus.STATEMENTED:
        return or_(i.status == status.value, and_(pending, not_(still_open)))
    return i.status == status.value
