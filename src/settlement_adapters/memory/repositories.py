"""In-memory repositories: reads see committed state overlaid with this unit of work's changes."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from settlement_adapters.memory.database import (
    BY_ACCOUNT,
    ITEM_AMOUNT,
    ITEM_KIND,
    ITEM_PENDING,
    ITEM_STATEMENTED,
    ITEM_STATUS,
    PAYOUT_FIELDS,
    STATEMENT_PAYABLE_AT,
    STATEMENT_STATUS,
    T,
    order_key,
)
from settlement_adapters.memory.rows import (
    EVENT_KINDS,
    EventRow,
    as_record,
    as_transaction,
    channel_event_from,
    tenant_and_reference,
    transaction_row,
)
from settlement_core.errors import ConcurrencyConflict, NotFound
from settlement_core.ledger import JournalRecord, JournalTransaction, Seal
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
    next_state,
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
    to_message,
)

if TYPE_CHECKING:
    from settlement_adapters.memory.unit_of_work import MemoryUnitOfWork


def _page(rows: Iterable[T], after: str | None, limit: int) -> Page[T]:
    ordered = sorted((r for r in rows if after is None or r.id > after), key=lambda r: r.id)
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return Page(chosen, chosen[-1].id if more and chosen else None)


def _between(value: Any, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


class _Repository:
    table = ""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    @property
    def _committed(self) -> dict[str, Any]:
        committed: dict[str, Any] = getattr(self.uow.db, self.table)
        return committed

    def _all(self, ids: Iterable[str] | None = None) -> list[Any]:
        """Every row (or the rows with `ids`) as this unit of work sees them."""
        staged = self.uow.staged[self.table]
        wanted = set(self._committed) | set(staged) if ids is None else set(ids)
        rows = []
        for obj_id in wanted:
            row = staged.get(obj_id, self._committed.get(obj_id))
            if row is not None:
                rows.append(row)
        return rows

    def _unique(
        self, index: dict[tuple[str, str], str], field: str, tenant_id: str, value: str
    ) -> Any:
        """The row whose (tenant, `field`) is (tenant_id, value): staged first, then committed."""
        for staged in self.uow.staged[self.table].values():
            if staged.tenant_id == tenant_id and getattr(staged, field) == value:
                return staged
        found = index.get((tenant_id, value))
        return None if found is None else self.uow.peek(self.table, self._committed, found)


class MemoryAccountRepository(_Repository):
    """Accounts by id and by (tenant, shop id)."""

    table = "accounts"

    def add(self, account: Account) -> None:
        """Stage a new account."""
        self.uow.stage_new(self.table, account)
        self.uow.accounts_by_shop[(account.tenant_id, account.shop_id)] = account

    def get(self, tenant_id: str, account_id: str) -> Account:
        """The account, or NotFound."""
        return self.uow.load(self.table, self.uow.db.accounts, account_id, tenant_id)

    def find_by_shop(self, tenant_id: str, shop_id: str) -> Account | None:
        """The account for a shop id, if any."""
        # New accounts and those read before, so a batch looks each shop up once.
        known = self.uow.accounts_by_shop.get((tenant_id, shop_id))
        if known is not None:
            return known
        account_id = self.uow.db.account_by_shop.get((tenant_id, shop_id))
        if account_id is None:
            return None
        found = self.uow.peek(self.table, self.uow.db.accounts, account_id)
        if found is not None:
            self.uow.accounts_by_shop[(tenant_id, shop_id)] = found
        return found

    def find_by_shops(self, tenant_id: str, shop_ids: Sequence[str]) -> dict[str, Account]:
        """The accounts of any of these shop ids, by shop id."""
        found = {shop: self.find_by_shop(tenant_id, shop) for shop in shop_ids}
        return {shop: account for shop, account in found.items() if account is not None}


class MemoryBillingItemRepository(_Repository):
    """Billing items with key, statement, account and order indexes."""

    table = "items"

    def add(self, item: BillingItem) -> None:
        """Stage a new item."""
        uow = self.uow
        uow.stage_new(self.table, item)
        uow.new_item_keys[(item.tenant_id, item.key)] = item
        uow.new_items.append(item)
        order = (item.tenant_id, item.account_id, item.order_id, item.currency)
        uow.new_booked_by_order[order] += item.amount_minor

    def get(self, tenant_id: str, item_id: str) -> BillingItem:
        """The item, or NotFound."""
        found = self.uow.peek_item(item_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"item {item_id!r} not found")
        return found

    def get_many(self, tenant_id: str, item_ids: Sequence[str]) -> list[BillingItem]:
        """The existing items among `item_ids`, in the order asked."""
        found = []
        for item_id in item_ids:
            try:
                found.append(self.get(tenant_id, item_id))
            except NotFound:
                continue
        return found

    def find_by_key(self, tenant_id: str, key: str) -> BillingItem | None:
        """The item recorded under a key, if any."""
        staged = self.uow.new_item_keys.get((tenant_id, key))
        if staged is not None:
            return staged
        item_id = self.uow.db.item_by_key.get(tenant_id, key)
        if item_id is None:
            return None
        return self.uow.peek_item(item_id)

    def find_by_keys(self, tenant_id: str, keys: Sequence[str]) -> dict[str, BillingItem]:
        """The items recorded under any of these keys, by key."""
        found = {key: self.find_by_key(tenant_id, key) for key in keys}
        return {key: item for key, item in found.items() if item is not None}

    def booked_for_order(
        self, tenant_id: str, account_id: str, order_id: str, currency: str
    ) -> int:
        """What one order has booked so far, in minor units."""
        order = (tenant_id, account_id, order_id, currency)
        booked = self.uow.db.booked_by_order.get(
            order_key(tenant_id, account_id, currency, order_id)
        )
        return (booked or 0) + self.uow.new_booked_by_order.get(order, 0)

    def _ids_of_statement(self, statement_id: str) -> list[str]:
        ids: list[str] = self.uow.db.items_by_statement.get(statement_id) or []
        ids.extend(i.id for i in self.uow.new_items_of(statement_id))
        return ids

    def _all(self, ids: Iterable[str] | None = None) -> list[Any]:
        """Every item (or the items with `ids`) as this unit of work sees them, as objects."""
        staged = self.uow.staged[self.table]
        wanted = set(self.uow.db.items) | set(staged) if ids is None else set(ids)
        found = (self.uow.item_view(item_id) for item_id in wanted)
        return [item for item in found if item is not None]

    def _kinds_and_amounts(self, statement_id: str) -> list[tuple[str, int]]:
        # Read from the rows: building an item per row cost more than the sum itself.
        staged = self.uow.staged[self.table]
        rows = self.uow.db.items
        found = []
        for item_id in self._ids_of_statement(statement_id):
            item = staged.get(item_id)
            if item is not None:
                found.append((item.kind.value, item.amount_minor))
                continue
            row = rows.get(item_id)
            if row is not None:
                found.append((row[ITEM_KIND], row[ITEM_AMOUNT]))
        return found

    def recount(self, statement_ids: Sequence[str]) -> dict[str, int]:
        """Sums of these statements' items, from the items themselves."""
        uow, at = self.uow, ITEM_AMOUNT
        staged, rows, by_statement = uow.staged[self.table], uow.db.items, uow.db.items_by_statement
        totals = {}
        # A staged bulk move changes the status only, so the rows' amounts hold.
        for statement_id in statement_ids:
            committed = by_statement.get(statement_id, ())
            if staged:
                total = sum(
                    rows[i][at] if (item := staged.get(i)) is None else item.amount_minor
                    for i in committed
                )
            else:  # a close holds no item copies: the rows alone
                total = sum([row[at] for row in rows.values_of(committed)])
            # Items this unit of work added are not in the committed index.
            totals[statement_id] = total + sum(
                i.amount_minor for i in uow.new_items_of(statement_id)
            )
        return totals

    def totals_of_kinds(
        self, statement_ids: Sequence[str], kinds: frozenset[ItemKind]
    ) -> dict[str, int]:
        """Sums of these statements' items of the given kinds."""
        values = {kind.value for kind in kinds}
        return {
            sid: sum(amount for kind, amount in self._kinds_and_amounts(sid) if kind in values)
            for sid in statement_ids
        }

    def move_by_statements(self, statement_ids: Sequence[str], trigger: str) -> int:
        """Apply a trigger to every item of these statements that allows it.

        The close writes no item row, as on SQL: an item stored as pending reads
        as statemented once its statement is closed (`status_on`, see
        `MemoryUnitOfWork.as_read`), so the close only counts the items it moves.
        Copies this unit of work holds are moved, so they read alike.
        """
        uow = self.uow
        # The machine is asked once per source state, not once per item.
        moves = {s: next_state(s, trigger) for s in sources(BillingItemStatus, trigger)}
        by_value = {source.value: dest.value for source, dest in moves.items()}
        staged = uow.staged[self.table]
        closing = trigger == CLOSE_TRIGGER
        if closing and not staged and not uow.moved_items:
            # A close job's unit of work holds no item: a count over the stored rows.
            rows, at = uow.db.items, ITEM_STATUS
            return sum(
                [
                    1
                    for s in statement_ids
                    for row in rows.values_of(self._ids_of_statement(s))
                    if row[at] in by_value
                ]
            )
        moved = 0
        # One event per bulk move is recorded by the caller, not one per item.
        for statement_id in statement_ids:
            # Rows stored as pending under a statement no longer open are statemented.
            derived = (
                {}
                if closing or uow.statement_is_open(statement_id)
                else {ITEM_PENDING: by_value.get(ITEM_STATEMENTED)}
            )
            for item_id in self._ids_of_statement(statement_id):
                item = staged.get(item_id)
                if item is not None:
                    if item.status in moves:
                        item.status = moves[item.status]
                        moved += 1
                    continue
                # Items not copied into the unit of work are moved as rows, or counted.
                seen = uow.item_status(item_id)
                if seen is None:
                    continue
                dest = by_value.get(seen[1]) or derived.get(seen[1])
                if dest is not None:
                    if not closing:
                        uow.move_item(item_id, seen[0], dest)
                    moved += 1
        return moved

    def query(self, where: ItemFilter, after: str | None, limit: int) -> Page[BillingItem]:
        """Items matching a filter, in id order after a cursor."""
        ids: Iterable[str]
        if where.statement_id is not None:
            ids = self._ids_of_statement(where.statement_id)
        elif where.account_id is not None:
            ids = list(self.uow.db.items_by_account.get(where.account_id, ()))
            ids.extend(i.id for i in self.uow.new_items if i.account_id == where.account_id)
        else:
            ids = [*self.uow.db.items, *self.uow.staged[self.table]]

        def keep(i: BillingItem) -> bool:
            return (
                i.tenant_id == where.tenant_id
                and (where.account_id is None or i.account_id == where.account_id)
                and (where.status is None or i.status is where.status)
                and (where.statement_id is None or i.statement_id == where.statement_id)
                and (where.order_id is None or i.order_id == where.order_id)
                and (where.currency is None or i.currency == where.currency)
                and _between(i.recorded_at, where.recorded_from, where.recorded_to)
                and _between(i.occurred_at, where.occurred_from, where.occurred_to)
                and _between(i.amount_minor, where.amount_min_minor, where.amount_max_minor)
            )

        # Ids are ordered first and items built only until the page is full.
        chosen: list[BillingItem] = []
        for item_id in sorted({i for i in ids if after is None or i > after}):
            item = self.uow.item_view(item_id)
            if item is not None and keep(item):
                chosen.append(item)
                if len(chosen) > limit:
                    break
        more = len(chosen) > limit
        chosen = chosen[:limit]
        return Page(chosen, chosen[-1].id if more and chosen else None)


class MemoryStatementRepository(_Repository):
    """Statements indexed by (account, currency) series and by status."""

    table = "statements"

    def add(self, statement: Statement) -> None:
        """Stage a new statement."""
        self.uow.stage_new(self.table, statement)
        series = (statement.account_id, statement.currency)
        self.uow.new_statements_by_series[series].append(statement)

    def get(self, tenant_id: str, statement_id: str) -> Statement:
        """The statement, or NotFound."""
        return self.uow.load(self.table, self.uow.db.statements, statement_id, tenant_id)

    def _series(self, account_id: str, currency: str) -> list[Statement]:
        series = (account_id, currency)
        ids = list(self.uow.db.statement_series.get(series, ((), ()))[1])
        ids.extend(s.id for s in self.uow.new_statements_by_series.get(series, ()))
        return sorted(self._all(ids), key=lambda s: s.period.start)

    def find_covering(self, account_id: str, currency: str, instant: datetime) -> Statement | None:
        """The statement whose period holds `instant`, if any."""
        series = (account_id, currency)
        # Periods never overlap nor change, so the last statement found for a series
        # answers again for every instant it holds (a batch books many on one statement).
        known = self.uow.covering.get(series)
        if known is not None and known.period.start <= instant < known.period.end:
            return known
        found = self._covering(series, instant)
        if found is not None:
            self.uow.covering[series] = found
        return found

    def _covering(self, series: tuple[str, str], instant: datetime) -> Statement | None:
        starts, ids = self.uow.db.statement_series.get(series, ((), ()))
        at = bisect.bisect_right(starts, instant) - 1
        if at >= 0:
            statement_id = ids[at]
            candidate = self.uow.peek(self.table, self.uow.db.statements, statement_id)
            if candidate is not None and candidate.period.contains(instant):
                return candidate
        for statement in self.uow.new_statements_by_series.get(series, ()):
            if statement.period.contains(instant):
                return statement
        return None

    def neighbours(
        self, account_id: str, currency: str, instant: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """End of the latest period before `instant` and start of the first after it."""
        before: datetime | None = None
        after: datetime | None = None
        for statement in self._series(account_id, currency):
            if statement.period.end <= instant:
                before = statement.period.end
            elif statement.period.start > instant and after is None:
                after = statement.period.start
        return before, after

    def load_series(
        self, series: Sequence[tuple[str, str]], start: datetime, end: datetime
    ) -> None:
        """Nothing to read ahead: the series are indexed in memory."""

    def _with_status(self, status: StatementStatus) -> list[Statement]:
        ids = set(self.uow.db.statements_by_status.get(status, ()))
        ids.update(self.uow.staged[self.table])
        return [s for s in self._all(ids) if s.status is status]

    def due_to_close(self, as_of: datetime, limit: int) -> list[Statement]:
        """Open statements whose period ended by `as_of`, oldest first."""
        open_ = StatementStatus.OPEN
        open_value = open_.value
        db = self.uow.db
        staged = self.uow.staged[self.table]
        due: list[tuple[datetime, str]] = []  # (period end, id)
        # The heap yields open statements by (period end, id): only the due ones are read,
        # not every open statement once per batch.
        with db.lock:
            queue, rows = db.open_queue, db.statements.rows
            taken: list[tuple[datetime, str]] = []
            seen: set[str] = set()
            while queue and len(due) < limit and queue[0][0] <= as_of:
                entry = heapq.heappop(queue)
                if entry[1] in seen or rows[entry[1]][STATEMENT_STATUS] != open_value:
                    continue  # closed since it was queued (or queued twice): drop the entry
                seen.add(entry[1])
                taken.append(entry)
                if entry[1] not in staged:
                    due.append(entry)
            for entry in taken:
                heapq.heappush(queue, entry)
        due.extend((s.period.end, s.id) for s in staged.values() if s.status is open_)
        due = sorted(entry for entry in due if entry[0] <= as_of)[:limit]
        return [self.get_own(statement_id) for _, statement_id in due]

    def close_due(self, as_of: datetime, limit: int, at: datetime) -> list[ClosedStatement]:
        """Recount and close the statements due_to_close names, through the lifecycle."""
        due = self.due_to_close(as_of, limit)
        recounts = self.uow.items.recount([s.id for s in due])
        allowed = sources(StatementStatus, "close")
        closed = []
        for statement in due:
            if statement.status not in allowed:
                continue
            source = statement.status
            # The caller records the events of a bulk close, not the aggregate.
            statement.status = next_state(source, "close")
            statement.closed_at = at
            statement.recount_minor = recounts[statement.id]
            closed.append(
                ClosedStatement(
                    statement.id,
                    statement.tenant_id,
                    source.value,
                    statement.total_minor,
                    statement.recount_minor,
                )
            )
        return closed

    def get_own(self, statement_id: str) -> Statement:
        """This unit of work's copy of a statement known to exist."""
        found = self.uow.peek(self.table, self.uow.db.statements, statement_id)
        if found is None:
            raise NotFound(f"statement {statement_id!r} not found")
        return found

    def accounts_with_payable(self, as_of: datetime, after: str | None, limit: int) -> list[str]:
        """Accounts holding closed statements payable at `as_of`, in id order."""
        closed = StatementStatus.CLOSED
        db = self.uow.db
        staged = self.uow.staged[self.table]

        def payable(s: Statement) -> bool:
            return s.status is closed and s.payable_at <= as_of

        closed_value = closed.value

        def payable_row(row: tuple[Any, ...]) -> bool:
            return bool(
                row[STATEMENT_STATUS] == closed_value and row[STATEMENT_PAYABLE_AT] <= as_of
            )

        found: list[str] = []
        # Accounts are walked in id order from the cursor, so a whole payout run reads each
        # account once instead of every closed statement once per batch.
        with db.lock:
            ids = db.account_ids
            at = 0 if after is None else bisect.bisect_right(ids, after)
            by_account, rows = db.statements_by_account_status, db.statements.rows
            while at < len(ids) and len(found) < limit:
                account_id = ids[at]
                at += 1
                for sid in by_account.get((account_id, closed_value), ()):
                    mine = staged.get(sid)
                    if payable(mine) if mine is not None else payable_row(rows[sid]):
                        found.append(account_id)
                        break
        extra = {
            s.account_id
            for s in staged.values()
            if payable(s) and (after is None or s.account_id > after)
        }
        return sorted(extra.union(found))[:limit]

    def payable_for_accounts(
        self, account_ids: Sequence[str], as_of: datetime
    ) -> dict[str, list[Statement]]:
        """These accounts' closed statements payable at `as_of`, by period."""
        return self._of_accounts(account_ids, StatementStatus.CLOSED, as_of)

    def carried_for_accounts(self, account_ids: Sequence[str]) -> dict[str, list[Statement]]:
        """These accounts' carried-forward statements, by period."""
        return self._of_accounts(account_ids, StatementStatus.CARRIED_FORWARD, None)

    def due_by_account(self, tenant_id: str, payable_by: datetime) -> list[AccountDue]:
        """Per account and currency: unpaid statements payable by then, summed."""
        totals: dict[tuple[str, str], int] = {}
        for status in UNPAID_STATEMENTS:
            for s in self._with_status(status):
                if s.tenant_id == tenant_id and s.payable_at <= payable_by:
                    key = (s.account_id, s.currency)
                    totals[key] = totals.get(key, 0) + s.total_minor
        accounts = self.uow.accounts
        return [
            AccountDue(account_id, accounts.get(tenant_id, account_id).payout_channel, ccy, total)
            for (account_id, ccy), total in sorted(totals.items())
        ]

    def _of_accounts(
        self, account_ids: Sequence[str], status: StatementStatus, as_of: datetime | None
    ) -> dict[str, list[Statement]]:
        # Committed statements come from the (account, status) index; staged ones may have
        # moved into or out of `status`, so they are looked at whatever their status.
        if status not in BY_ACCOUNT:
            raise ValueError(f"statements in {status.value} are not indexed by account")
        wanted = set(account_ids)
        staged_ids: dict[str, list[str]] = {}
        for s in self.uow.staged[self.table].values():
            if s.account_id in wanted:
                staged_ids.setdefault(s.account_id, []).append(s.id)
        by_account = self.uow.db.statements_by_account_status
        staged, rows = self.uow.staged[self.table], self.uow.db.statements.rows
        value = status.value
        result: dict[str, list[Statement]] = {}
        for account_id in account_ids:
            ids = set(by_account.get((account_id, status.value), ()))
            ids.update(staged_ids.get(account_id, ()))
            # Rows are tested before a copy is taken: only the statements returned are copied.
            chosen = [
                sid
                for sid in ids
                if sid in staged
                or (
                    rows[sid][STATEMENT_STATUS] == value
                    and (as_of is None or rows[sid][STATEMENT_PAYABLE_AT] <= as_of)
                )
            ]
            found = [
                s
                for s in map(self.get_own, chosen)
                if s.status is status and (as_of is None or s.payable_at <= as_of)
            ]
            if found:
                result[account_id] = sorted(found, key=lambda s: (s.period.start, s.currency))
        return result

    def query(self, where: StatementFilter, after: str | None, limit: int) -> Page[Statement]:
        """Statements matching a filter, in id order after a cursor."""

        def keep(s: Statement) -> bool:
            return (
                s.tenant_id == where.tenant_id
                and (where.account_id is None or s.account_id == where.account_id)
                and (where.status is None or s.status is where.status)
                and (where.currency is None or s.currency == where.currency)
                and _between(s.period.start, where.period_from, where.period_to)
            )

        return _page(filter(keep, self._all()), after, limit)


class MemoryPayoutRepository(_Repository):
    """Payouts by id and key."""

    table = "payouts"

    def add(self, payout: Payout) -> None:
        """Stage a new payout."""
        self.uow.stage_new(self.table, payout)

    def get(self, tenant_id: str, payout_id: str) -> Payout:
        """The payout, or NotFound."""
        return self.uow.load(self.table, self.uow.db.payouts, payout_id, tenant_id)

    def find_by_key(self, tenant_id: str, key: str) -> Payout | None:
        """The payout created for a statement set, if any."""
        for payout in self.uow.staged[self.table].values():
            if payout.tenant_id == tenant_id and payout.key == key:
                return payout  # type: ignore[no-any-return]
        payout_id = self.uow.db.payout_by_key.get((tenant_id, key))
        if payout_id is None:
            return None
        return self.uow.peek(self.table, self.uow.db.payouts, payout_id)

    def find(self, payout_id: str) -> Payout | None:
        """A payout of any tenant."""
        return self.uow.peek(self.table, self.uow.db.payouts, payout_id)

    def get_many(self, tenant_id: str, payout_ids: Sequence[str]) -> list[Payout]:
        """The existing payouts among `payout_ids`, in the order asked."""
        found = (self.find(p) for p in payout_ids)
        return [p for p in found if p is not None and p.tenant_id == tenant_id]

    def _viewed(
        self,
        statuses: Iterable[PayoutStatus],
        keep: Callable[[Payout], bool],
        after: str | None,
        limit: int | None,
        copy: bool = False,
    ) -> list[Payout]:
        """The first `limit` (None: all) payouts after `after`, in id order, that `keep` keeps.

        Payouts as this unit of work sees them (its copy, else the committed one),
        not staged by the read unless `copy` (then each one looked at becomes this
        unit of work's copy, read once). Only payouts committed in one of
        `statuses`, or copied by this unit of work, are looked at: `keep` must
        refuse the others.
        """
        db, staged = self.uow.db, self.uow.staged[self.table]
        read = (lambda i: self.uow.peek(self.table, db.payouts, i)) if copy else db.payouts.get
        mine = sorted(p for p in staged if after is None or p > after)
        chosen: list[Payout] = []
        with db.lock:
            indexed = [db.payouts_by_status[s].after(after) for s in statuses]
            previous = None
            for payout_id in heapq.merge(*indexed, mine):
                if payout_id == previous:
                    continue  # committed in one of the statuses and copied too
                previous = payout_id
                payout = staged.get(payout_id) or read(payout_id)
                if payout is not None and keep(payout):
                    chosen.append(payout)
                    if len(chosen) == limit:  # never, for None
                        break
        return chosen

    def _select(
        self,
        statuses: Iterable[PayoutStatus],
        keep: Callable[[Payout], bool],
        after: str | None,
        limit: int,
    ) -> list[Payout]:
        """As `_viewed`, each payout this unit of work's copy (for the caller to change)."""
        return self._viewed(statuses, keep, after, limit, copy=True)

    def releasable(self, created_by: datetime, after: str | None, limit: int) -> list[Payout]:
        """Scheduled, created payouts in no release, in id order."""

        def keep(p: Payout) -> bool:
            return (
                p.status is PayoutStatus.CREATED
                and p.kind is PayoutKind.SCHEDULED
                and p.release_id is None
                and p.created_at <= created_by
            )

        return self._select((PayoutStatus.CREATED,), keep, after, limit)

    def awaiting_answer(
        self, submitted_before: datetime, after: str | None, limit: int
    ) -> list[Payout]:
        """Ongoing or unknown payouts submitted at or before an instant, in id order."""

        def keep(p: Payout) -> bool:
            return (
                p.status in AWAITING_ANSWER
                and p.submitted_at is not None
                and p.submitted_at <= submitted_before
            )

        return self._select(AWAITING_ANSWER, keep, after, limit)

    def due_for_retry(self, as_of: datetime, after: str | None, limit: int) -> list[Payout]:
        """Failed payouts whose next attempt is due, in id order."""

        def keep(p: Payout) -> bool:
            return (
                p.status is PayoutStatus.FAILED
                and p.next_attempt_at is not None
                and p.next_attempt_at <= as_of
            )

        return self._select((PayoutStatus.FAILED,), keep, after, limit)

    def unfunded_totals(self, tenant_id: str) -> list[ChannelTotal]:
        """Payouts waiting for approval or release with no money set aside."""

        totals: dict[tuple[str, str], list[int]] = {}

        def add(channel: str, currency: str, amount_minor: int) -> None:
            entry = totals.setdefault((channel, currency), [0, 0])
            entry[0] += amount_minor
            entry[1] += 1

        db, staged = self.uow.db, self.uow.staged[self.table]
        tenant, funded, channel, currency, amount = PAYOUT_FIELDS
        # Committed payouts are summed from their rows: each one built as an object, as
        # for the jobs that change them, cost more than the sum itself. The status index
        # is written with the rows, under the lock, so a row listed there has that status.
        with db.lock:
            rows = db.payouts.rows
            for listed in UNRELEASED_PAYOUTS:
                for payout_id in db.payouts_by_status[listed].after(None):
                    row = rows[payout_id]
                    if payout_id not in staged and row[tenant] == tenant_id and not row[funded]:
                        add(row[channel], row[currency], row[amount])
        for p in staged.values():
            if p.tenant_id == tenant_id and p.status in UNRELEASED_PAYOUTS and not p.funded:
                add(p.channel, p.currency, p.amount_minor)
        return [ChannelTotal(ch, ccy, t, n) for (ch, ccy), (t, n) in sorted(totals.items())]

    def query(self, where: PayoutFilter, after: str | None, limit: int) -> Page[Payout]:
        """Payouts matching a filter, in id order after a cursor."""

        def keep(p: Payout) -> bool:
            return (
                p.tenant_id == where.tenant_id
                and (where.account_id is None or p.account_id == where.account_id)
                and (where.status is None or p.status is where.status)
                and (where.currency is None or p.currency == where.currency)
                and (where.channel is None or p.channel == where.channel)
                and (where.release_id is None or p.release_id == where.release_id)
                and _between(p.created_at, where.created_from, where.created_to)
                and _between(p.amount_minor, where.amount_min_minor, where.amount_max_minor)
            )

        if where.status is not None:
            # One status: its index, from the cursor on, instead of every payout a page.
            return _page(self._viewed((where.status,), keep, after, limit + 1), after, limit)
        return _page(filter(keep, self._all()), after, limit)


class MemoryReleaseSummaryRepository(_Repository):
    """Release summaries by id."""

    table = "releases"

    def add(self, summary: ReleaseSummary) -> None:
        """Stage a new summary."""
        self.uow.stage_new(self.table, summary)

    def get(self, tenant_id: str, summary_id: str) -> ReleaseSummary:
        """The summary, or NotFound."""
        return self.uow.load(self.table, self.uow.db.releases, summary_id, tenant_id)

    def find(
        self,
        tenant_id: str,
        status: ReleaseSummaryStatus | None = None,
        channel: str | None = None,
        currency: str | None = None,
    ) -> list[ReleaseSummary]:
        """A tenant's summaries, oldest first."""
        chosen = sorted(
            (
                s
                for s in self._all()
                if s.tenant_id == tenant_id
                and (status is None or s.status is status)
                and (channel is None or s.channel == channel)
                and (currency is None or s.currency == currency)
            ),
            key=lambda s: s.id,
        )
        return [self.uow.load(self.table, self.uow.db.releases, s.id, tenant_id) for s in chosen]


class MemoryFundingRepository(_Repository):
    """Fundings by id and bank reference."""

    table = "fundings"

    def add(self, funding: Funding) -> None:
        """Stage a new funding."""
        self.uow.stage_new(self.table, funding)

    def find_by_reference(self, tenant_id: str, reference: str) -> Funding | None:
        """The funding recorded under a reference, if any."""
        found: Funding | None = self._unique(
            self.uow.db.funding_by_reference, "reference", tenant_id, reference
        )
        return found


class MemoryDiscrepancyRepository(_Repository):
    """Discrepancies by id and by finding key."""

    table = "discrepancies"

    def add(self, discrepancy: Discrepancy) -> None:
        """Stage a new discrepancy."""
        self.uow.stage_new(self.table, discrepancy)

    def get(self, tenant_id: str, discrepancy_id: str) -> Discrepancy:
        """The discrepancy, or NotFound."""
        return self.uow.load(self.table, self.uow.db.discrepancies, discrepancy_id, tenant_id)

    def find_by_key(self, tenant_id: str, key: str) -> Discrepancy | None:
        """The discrepancy recorded for a finding, if any."""
        found: Discrepancy | None = self._unique(
            self.uow.db.discrepancy_by_key, "key", tenant_id, key
        )
        return found

    def query(
        self, tenant_id: str, status: DiscrepancyStatus | None, after: str | None, limit: int
    ) -> Page[Discrepancy]:
        """A tenant's discrepancies in id order after a cursor."""
        rows = (
            d
            for d in self._all()
            if d.tenant_id == tenant_id and (status is None or d.status is status)
        )
        return _page(rows, after, limit)


class MemoryFreezeRepository(_Repository):
    """Freezes by id and by reference."""

    table = "freezes"

    def add(self, freeze: Freeze) -> None:
        """Stage a new freeze."""
        self.uow.stage_new(self.table, freeze)

    def find_by_reference(self, tenant_id: str, reference: str) -> Freeze | None:
        """The freeze made under a reference, if any."""
        found: Freeze | None = self._unique(
            self.uow.db.freeze_by_reference, "reference", tenant_id, reference
        )
        return found

    def expired(self, as_of: datetime, limit: int) -> list[Freeze]:
        """Held freezes past their expiry, oldest first."""
        due = sorted(
            (f for f in self._all() if f.status is FreezeStatus.HELD and f.expires_at <= as_of),
            key=lambda f: f.id,
        )[:limit]
        return [self.uow.load(self.table, self.uow.db.freezes, f.id, None) for f in due]

    def query(
        self,
        tenant_id: str,
        account_id: str | None,
        status: FreezeStatus | None,
        after: str | None,
        limit: int,
    ) -> Page[Freeze]:
        """A tenant's freezes in id order after a cursor."""
        rows = (
            f
            for f in self._all()
            if f.tenant_id == tenant_id
            and (account_id is None or f.account_id == account_id)
            and (status is None or f.status is status)
        )
        return _page(rows, after, limit)


class MemoryChargeRepository(_Repository):
    """Charges by id and by reference."""

    table = "charges"

    def add(self, charge: Charge) -> None:
        """Stage a new charge."""
        self.uow.stage_new(self.table, charge)

    def get(self, tenant_id: str, charge_id: str) -> Charge:
        """The charge, or NotFound."""
        return self.uow.load(self.table, self.uow.db.charges, charge_id, tenant_id)

    def find_by_reference(self, tenant_id: str, reference: str) -> Charge | None:
        """The charge proposed under a reference, if any."""
        found: Charge | None = self._unique(
            self.uow.db.charge_by_reference, "reference", tenant_id, reference
        )
        return found

    def query(
        self, tenant_id: str, status: ChargeStatus | None, after: str | None, limit: int
    ) -> Page[Charge]:
        """A tenant's charges in id order after a cursor."""
        rows = (
            c
            for c in self._all()
            if c.tenant_id == tenant_id and (status is None or c.status is status)
        )
        return _page(rows, after, limit)


class MemoryCollectionRepository(_Repository):
    """Collections by id; (tenant, key) is unique."""

    table = "collections"

    def add(self, collection: Collection) -> None:
        """Stage a new collection."""
        self.uow.stage_new(self.table, collection)

    def get(self, tenant_id: str, collection_id: str) -> Collection:
        """The collection, or NotFound."""
        return self.uow.load(self.table, self.uow.db.collections, collection_id, tenant_id)

    def query(
        self,
        tenant_id: str,
        account_id: str | None,
        status: CollectionStatus | None,
        after: str | None,
        limit: int,
    ) -> Page[Collection]:
        """A tenant's collections in id order after a cursor."""
        rows = (
            c
            for c in self._all()
            if c.tenant_id == tenant_id
            and (account_id is None or c.account_id == account_id)
            and (status is None or c.status is status)
        )
        return _page(rows, after, limit)


class MemoryFeeCalculationRepository(_Repository):
    """Priced order events by (tenant, order, sequence)."""

    table = "fee_calculations"

    def add(self, calculation: FeeCalculation) -> None:
        """Stage a new calculation."""
        self.uow.stage_new(self.table, calculation)

    def find(self, tenant_id: str, order_id: str, sequence: int) -> FeeCalculation | None:
        """The calculation of one order event: staged first, then committed."""
        for staged in self.uow.staged[self.table].values():
            if (staged.tenant_id, staged.order_id, staged.sequence) == (
                tenant_id,
                order_id,
                sequence,
            ):
                found: FeeCalculation = staged
                return found
        committed = self.uow.db.fee_calculation_by_event.get((tenant_id, order_id, sequence))
        return None if committed is None else self.uow.peek(self.table, self._committed, committed)

    def for_order(self, tenant_id: str, order_id: str) -> list[FeeCalculation]:
        """Every calculation of an order, by sequence."""
        rows = [c for c in self._all() if (c.tenant_id, c.order_id) == (tenant_id, order_id)]
        return sorted(rows, key=lambda c: c.sequence)


class MemoryCheckpointRepository:
    """Job checkpoints; a put is checked against the committed value at commit."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    def get(self, tenant_id: str, name: str) -> str | None:
        """The staged or committed value."""
        staged = self.uow.staged_checkpoints.get((tenant_id, name))
        return staged[1] if staged else self.uow.db.checkpoints.get((tenant_id, name))

    def put(self, tenant_id: str, name: str, value: str, expected: str | None) -> None:
        """Stage a compare-and-set."""
        first = self.uow.staged_checkpoints.get((tenant_id, name))
        self.uow.staged_checkpoints[(tenant_id, name)] = (
            expected if first is None else first[0],
            value,
        )


class MemoryChannelEventRepository:
    """Channel answers, with the nonces of accepted callbacks."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    def add(self, event: ChannelEvent) -> None:
        """Stage an answer."""
        self.uow.staged_channel_events.append(event)

    def nonce_seen(self, channel: str, nonce: str) -> bool:
        """Whether a callback with this nonce was accepted (or is staged)."""
        if self.uow.db.nonces.has(channel, nonce):
            return True
        return any(
            e.channel == channel and e.nonce == nonce for e in self.uow.staged_channel_events
        )

    def for_payout(self, tenant_id: str, payout_id: str) -> list[ChannelEvent]:
        """The answers about one payout, oldest first."""
        stored = self.uow.db.channel_events_by_payout.get(payout_id, ())
        found = [channel_event_from(row) for row in stored]
        found.extend(e for e in self.uow.staged_channel_events if e.payout_id == payout_id)
        return [e for e in found if e.tenant_id == tenant_id]


class MemoryLedger:
    """The journal; balances are folded in as transactions are committed."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    def post(self, transaction: JournalTransaction) -> None:
        """Stage a balanced transaction; (kind, reference) may be posted once."""
        uow = self.uow
        kind, reference = transaction.kind, transaction.reference
        posted = (kind, reference)
        if posted in uow.new_transactions or uow.db.transaction_by_reference.has(kind, reference):
            raise ConcurrencyConflict(f"{kind} for {reference} was already posted")
        # Staged as a row: the transaction is frozen, and the object dies with the caller's
        # reference instead of living (and being walked by the collector) until commit.
        row = transaction_row(transaction)
        uow.transactions.append(row)
        uow.new_transactions[posted] = row
        deltas, currencies = uow.balance_deltas, uow.delta_currencies
        for entry in transaction.entries:
            account, currency = entry.account, entry.currency
            deltas[(account, currency)] += entry.amount_minor
            known = currencies.get(account, ())
            if currency not in known:
                currencies[account] = (*known, currency)

    def get(self, transaction_id: str) -> JournalTransaction:
        """A posted (or staged) transaction, or NotFound."""
        for row in self.uow.transactions:
            if row[0] == transaction_id:
                return as_transaction(row)
        found = self.uow.db.transactions.get(transaction_id)
        if found is None:
            raise NotFound(f"journal transaction {transaction_id!r} not found")
        return found

    def find(self, kind: str, reference: str) -> JournalTransaction | None:
        """The transaction of a kind for a reference, if any."""
        staged = self.uow.new_transactions.get((kind, reference))
        if staged is not None:
            return as_transaction(staged)
        transaction_id = self.uow.db.transaction_by_reference.get(kind, reference)
        return None if transaction_id is None else self.uow.db.transactions.get(transaction_id)

    def balance(self, account: str, currency: str) -> int:
        """The sum of an account's entries in one currency."""
        key = (account, currency)
        return self.uow.db.balances.get(key, 0) + self.uow.balance_deltas.get(key, 0)

    def balances(self, account: str) -> dict[str, int]:
        """An account's non-zero balances per currency."""
        # Indexed by account: scanning every balance made payouts quadratic in accounts.
        currencies = {*self.uow.db.currencies_by_account.get(account, ())}
        currencies.update(self.uow.delta_currencies.get(account, ()))
        found = {c: self.balance(account, c) for c in currencies}
        return {c: v for c, v in found.items() if v}

    def balances_of(self, accounts: Sequence[str]) -> dict[str, dict[str, int]]:
        """The non-zero balances per currency of each of these ledger accounts."""
        return {account: self.balances(account) for account in dict.fromkeys(accounts)}

    def transactions(self, tenant_id: str | None = None) -> list[JournalTransaction]:
        """Every committed and staged transaction, in posting order."""
        return self._committed_and_staged(
            lambda tenant, _: tenant_id is None or tenant == tenant_id
        )

    def by_references(self, tenant_id: str, references: Sequence[str]) -> list[JournalTransaction]:
        """A tenant's transactions about any of these objects, in posting order."""
        wanted = set(references)
        return self._committed_and_staged(
            lambda tenant, reference: tenant == tenant_id and reference in wanted
        )

    def _committed_and_staged(self, keep: Callable[[str, str], bool]) -> list[JournalTransaction]:
        # Rows are tested before they are turned back into transactions.
        rows = [*self.uow.db.transactions.rows(), *self.uow.transactions]
        return [as_transaction(row) for row in rows if keep(*tenant_and_reference(row))]

    def unsealed(self, tenant_id: str, limit: int) -> list[JournalRecord]:
        """A tenant's committed transactions with no seal, in id order."""
        seals = self.uow.db.seals
        waiting = sorted(
            (
                record
                for record in map(as_record, self.uow.db.transactions.rows())
                if record.tenant_id == tenant_id and record.id not in seals
            ),
            key=lambda r: r.id,
        )
        return waiting[:limit]

    def last_seal(self, tenant_id: str) -> Seal | None:
        """The tip of a tenant's chain."""
        chain = self.uow.db.seals_by_tenant.get(tenant_id)
        return chain[-1] if chain else None

    def add_seals(self, seals: Sequence[Seal]) -> None:
        """Stage seals; the commit checks nobody extended the chain meanwhile."""
        self.uow.staged_seals.extend(seals)

    def sealed(
        self, tenant_id: str, after_seq: int, limit: int
    ) -> list[tuple[Seal, JournalRecord | None]]:
        """Seals after `after_seq` with their records as stored now."""
        chain = self.uow.db.seals_by_tenant.get(tenant_id, [])
        found = [s for s in chain if s.seq > after_seq][:limit]
        rows = self.uow.db.transactions
        found_rows = [(s, rows.row(s.transaction_id)) for s in found]
        return [(s, None if row is None else as_record(row)) for s, row in found_rows]

    def audit(self, tenant_id: str | None = None) -> LedgerAudit:
        """Unbalanced transactions, and entry sums beside the folded balances."""
        unbalanced: list[tuple[str, str, int]] = []
        sums: dict[tuple[str, str], int] = {}
        for transaction in self.transactions(tenant_id):
            legs: dict[str, int] = {}
            for entry in transaction.entries:
                legs[entry.currency] = legs.get(entry.currency, 0) + entry.amount_minor
                key = (entry.account, entry.currency)
                sums[key] = sums.get(key, 0) + entry.amount_minor
            unbalanced.extend((transaction.id, c, off) for c, off in sorted(legs.items()) if off)
        cached = {key: self.balance(*key) for key in sums}
        return LedgerAudit(tuple(unbalanced), sums, cached)


class MemoryOutbox:
    """Outbox messages kept in commit order."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Stage messages (events are added by the unit of work itself on commit)."""
        self.uow.extra_messages.extend(messages)

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Messages not yet sent, oldest first."""
        db = self.uow.db
        sent = db.outbox_sent
        found: list[OutboxMessage] = []
        with db.lock:
            chunks = db.outbox
            # The cursor (chunk, offset) moves past messages sent in order, so a relay
            # does not walk everything it delivered before on every call.
            while db.outbox_cursor < len(chunks):
                chunk = chunks[db.outbox_cursor]
                while (
                    db.outbox_offset < len(chunk) and _message_id(chunk[db.outbox_offset]) in sent
                ):
                    db.outbox_offset += 1
                if db.outbox_offset < len(chunk):
                    break
                db.outbox_cursor += 1
                db.outbox_offset = 0
            offset = db.outbox_offset
            for chunk in chunks[db.outbox_cursor :]:
                for entry in chunk[offset:]:
                    if _message_id(entry) in sent:
                        continue
                    found.append(_message(entry))
                    if len(found) == limit:
                        return found
                offset = 0
        return found

    def mark_sent(self, message_ids: Sequence[str]) -> None:
        """Record delivery on commit."""
        self.uow.sent.extend(message_ids)


def _message_id(entry: EventRow | OutboxMessage) -> str:
    return entry[0] if isinstance(entry, tuple) else entry.id


def _message(entry: EventRow | OutboxMessage) -> OutboxMessage:
    if isinstance(entry, tuple):
        return to_message(EVENT_KINDS.event(entry), entry[0])
    return entry
