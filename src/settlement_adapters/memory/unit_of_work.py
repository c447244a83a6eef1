"""The in-memory unit of work: staged changes, applied atomically on commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Container, Sequence
from types import TracebackType
from typing import Any, Self

from settlement_adapters.memory.codec import Row, RowTable
from settlement_adapters.memory.copies import clone, same
from settlement_adapters.memory.database import (
    ITEM_PENDING,
    ITEM_STATEMENT,
    ITEM_STATEMENTED,
    ITEM_STATUS,
    ITEM_VERSION,
    ITEMS,
    PAYOUT_STATUS,
    PAYOUT_STATUSES,
    STATEMENT_OPEN,
    STATEMENT_STATUS,
    STATEMENT_STATUSES,
    MemoryDatabase,
    T,
)
from settlement_adapters.memory.repositories import (
    MemoryAccountRepository,
    MemoryBillingItemRepository,
    MemoryChannelEventRepository,
    MemoryChargeRepository,
    MemoryCheckpointRepository,
    MemoryCollectionRepository,
    MemoryDiscrepancyRepository,
    MemoryFeeCalculationRepository,
    MemoryFreezeRepository,
    MemoryFundingRepository,
    MemoryLedger,
    MemoryOutbox,
    MemoryPayoutRepository,
    MemoryReleaseSummaryRepository,
    MemoryStatementRepository,
)
from settlement_adapters.memory.rows import (
    EVENT_KINDS,
    EventRow,
    TransactionRow,
    channel_event_row,
)
from settlement_adapters.memory.runs import MemoryRunRepository
from settlement_core.errors import ConcurrencyConflict, NotFound
from settlement_core.ids import IdFactory, UuidV7Factory
from settlement_core.ledger import Seal
from settlement_core.lifecycle import StatementStatus
from settlement_core.model import (
    Account,
    BillingItem,
    ChannelEvent,
    Charge,
    Collection,
    Discrepancy,
    Event,
    FeeCalculation,
    Freeze,
    Funding,
    Payout,
    ReleaseSummary,
    Run,
    Statement,
)
from settlement_core.ports import OutboxMessage

# A committed table: objects by id, or rows (see RowTable).
Committed = dict[str, T] | RowTable[T]

# Per table, in staging order: the objects to write, and the ids of those that are new.
Changed = list[tuple[str, list[Any], Container[str]]]

Aggregate = (
    Account
    | BillingItem
    | Statement
    | Payout
    | ReleaseSummary
    | Funding
    | Discrepancy
    | Freeze
    | Run
    | Charge
    | Collection
    | FeeCalculation
)


class MemoryUnitOfWork:
    """A transaction over a MemoryDatabase; rolls back unless committed."""

    def __init__(self, db: MemoryDatabase, ids: IdFactory | None = None) -> None:
        self.db = db
        self.ids = ids or UuidV7Factory()
        self.accounts = MemoryAccountRepository(self)
        self.items = MemoryBillingItemRepository(self)
        self.statements = MemoryStatementRepository(self)
        self.payouts = MemoryPayoutRepository(self)
        self.releases = MemoryReleaseSummaryRepository(self)
        self.fundings = MemoryFundingRepository(self)
        self.channel_events = MemoryChannelEventRepository(self)
        self.discrepancies = MemoryDiscrepancyRepository(self)
        self.checkpoints = MemoryCheckpointRepository(self)
        self.freezes = MemoryFreezeRepository(self)
        self.runs = MemoryRunRepository(self)
        self.charges = MemoryChargeRepository(self)
        self.collections = MemoryCollectionRepository(self)
        self.fee_calculations = MemoryFeeCalculationRepository(self)
        self.ledger = MemoryLedger(self)
        self.outbox = MemoryOutbox(self)
        self._reset()

    def _reset(self) -> None:
        # table name -> id -> the unit of work's copy (read for update) or new object
        self.staged: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        self.new: defaultdict[str, set[str]] = defaultdict(set)
        self.originals: dict[tuple[str, str], Any] = {}
        self.transactions: list[TransactionRow] = []  # staged as rows (see MemoryLedger.post)
        self.staged_channel_events: list[ChannelEvent] = []
        self.staged_seals: list[Seal] = []
        self.staged_checkpoints: dict[tuple[str, str], tuple[str | None, str]] = {}
        self.balance_deltas: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.delta_currencies: dict[str, tuple[str, ...]] = {}
        self.recorded: list[Event] = []
        self.sent: list[str] = []
        self.extra_messages: list[OutboxMessage] = []
        # Indexes over what this unit of work added, so lookups stay O(1) in big batches.
        self.new_item_keys: dict[tuple[str, str], BillingItem] = {}
        # Indexed by statement when first asked (ingest never asks): see new_items_of.
        self.new_items: list[BillingItem] = []
        self._new_items_by_statement: dict[str, list[BillingItem]] = {}
        self._new_items_indexed = 0
        self.new_booked_by_order: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        self.accounts_by_shop: dict[tuple[str, str], Account] = {}  # new or read
        self.covering: dict[tuple[str, str], Statement] = {}  # series -> last statement found
        self.new_statements_by_series: defaultdict[tuple[str, str], list[Statement]] = defaultdict(
            list
        )
        self.new_transactions: dict[tuple[str, str], TransactionRow] = {}
        # item id -> (row read, staged status), for items moved in bulk without a copy
        self.moved_items: dict[str, tuple[Row, str]] = {}
        self.encoded: dict[str, Row] = {}  # id -> row of a changed object kept as rows

    def __enter__(self) -> Self:
        """Begin (staging starts empty)."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Drop whatever was not committed."""
        self.rollback()

    # staging helpers used by the repositories
    def load(self, table: str, committed: Committed[T], obj_id: str, tenant_id: str | None) -> T:
        """The unit of work's copy of a committed object, or NotFound."""
        found = self.peek(table, committed, obj_id)
        if found is None or (tenant_id is not None and found.tenant_id != tenant_id):
            raise NotFound(f"{table[:-1]} {obj_id!r} not found")
        return found

    def peek(self, table: str, committed: Committed[T], obj_id: str) -> T | None:
        """Like `load`, but None when missing."""
        staged = self.staged[table]
        if obj_id in staged:
            return staged[obj_id]  # type: ignore[no-any-return]
        mine: T
        original: Any
        if type(committed) is RowTable:
            # A row is its own snapshot, and the object built from it is ours alone.
            original = committed.rows.get(obj_id)
            if original is None:
                return None
            mine = committed.codec.object(original)
        else:
            found = committed.get(obj_id)
            if found is None:
                return None
            # Committed objects are replaced on write, never changed, so this is a snapshot.
            mine, original = clone(found), found
        staged[obj_id] = mine
        self.originals[(table, obj_id)] = original
        return mine

    def peek_item(self, item_id: str) -> BillingItem | None:
        """Like `peek`, for an item: the row is the snapshot, the object the copy."""
        staged = self.staged["items"]
        if item_id in staged:
            return staged[item_id]  # type: ignore[no-any-return]
        moved = self.moved_items.pop(item_id, None)
        if moved is None:
            found = self.db.items.get(item_id)
            if found is None:
                return None
            # Compared with the derived status, so an item only read is not written.
            original = row = self.as_read(found)
        else:
            original = moved[0]
            row = _with_status(original, moved[1])
        mine = staged[item_id] = ITEMS.object(row)
        self.originals[("items", item_id)] = original
        return mine

    def item_row(self, item_id: str) -> Row | None:
        """The row of an item this unit of work holds no copy of, with any staged move."""
        moved = self.moved_items.get(item_id)
        if moved is not None:
            return _with_status(*moved)
        row = self.db.items.get(item_id)
        return None if row is None else self.as_read(row)

    def as_read(self, row: Row) -> Row:
        """A stored item row with its status as `status_on` derives it from the statement."""
        # The close leaves item rows alone (see move_by_statements): an item stored as
        # pending reads as statemented once its statement, as this unit of work sees it,
        # is no longer open.
        if row[ITEM_STATUS] != ITEM_PENDING or self.statement_is_open(row[ITEM_STATEMENT]):
            return row
        return _with_status(row, ITEM_STATEMENTED)

    def statement_is_open(self, statement_id: str) -> bool:
        """Whether a statement is open, as this unit of work sees it."""
        staged: Statement | None = self.staged["statements"].get(statement_id)
        if staged is not None:
            return staged.status is StatementStatus.OPEN
        row = self.db.statements.rows.get(statement_id)
        return row is None or row[STATEMENT_STATUS] == STATEMENT_OPEN

    def item_view(self, item_id: str) -> BillingItem | None:
        """An item as this unit of work sees it, for reading (no copy is staged)."""
        staged: BillingItem | None = self.staged["items"].get(item_id)
        if staged is not None:
            return staged
        row = self.item_row(item_id)
        return None if row is None else ITEMS.object(row)

    def item_status(self, item_id: str) -> tuple[Row, str] | None:
        """The row read and the status stored (or staged) of an item this unit holds no copy of.

        Stored, not derived: the caller knows the statement (see `as_read`).
        """
        moved = self.moved_items.get(item_id)
        if moved is not None:
            return moved
        row = self.db.items.get(item_id)
        return None if row is None else (row, row[ITEM_STATUS])

    def move_item(self, item_id: str, original: Row, status: str) -> None:
        """Stage a status change of an item this unit of work holds no copy of."""
        # Bulk moves touch every item of a statement: a status each is cheaper than a copy.
        self.moved_items[item_id] = (original, status)

    def new_items_of(self, statement_id: str) -> Sequence[BillingItem]:
        """The items this unit of work added to a statement."""
        by_statement = self._new_items_by_statement
        for item in self.new_items[self._new_items_indexed :]:
            by_statement.setdefault(item.statement_id, []).append(item)
        self._new_items_indexed = len(self.new_items)
        return by_statement.get(statement_id, ())

    def stage_new(self, table: str, obj: Aggregate) -> None:
        """Stage an object to insert."""
        self.staged[table][obj.id] = obj
        self.new[table].add(obj.id)

    def record(self, event: Event) -> None:
        """Add an event carried by no single aggregate."""
        self.recorded.append(event)

    def commit(self) -> None:
        """Check versions and unique keys, then apply everything at once."""
        db = self.db
        with db.lock:
            changed = self._changed(db)
            at = ITEM_STATUS
            moved = [(i, row, new) for i, (row, new) in self.moved_items.items() if row[at] != new]
            self._check(db, changed)
            _check_moves(db, moved)
            # The rows of earlier commits, untracked by the collector by now, go into
            # the tables before this commit's rows wait their turn (see untracked.py).
            db.settle()
            self._apply(db, changed)
            _apply_moves(db, moved)
        self._reset()

    def rollback(self) -> None:
        """Discard the staged changes."""
        self._reset()

    def _changed(self, db: MemoryDatabase) -> Changed:
        changed: Changed = []
        originals = self.originals
        self.encoded = {}
        for table, staged in self.staged.items():
            new = self.new.get(table, ())
            committed = getattr(db, table)
            if type(committed) is RowTable:
                written = self._changed_rows(table, committed, staged, new)
                if written:
                    changed.append((table, written, new))
                continue
            unchanged = _unchanged_item if table == "items" else same
            written = []
            for obj_id, obj in staged.items():
                if obj_id in new:
                    written.append(obj)
                    continue
                original = originals.get((table, obj_id))
                # Objects only read are not written, so readers never conflict with writers.
                if obj.events or original is None or not unchanged(original, obj):
                    written.append(obj)
            if written:
                changed.append((table, written, new))
        return changed

    def _changed_rows(
        self, table: str, committed: RowTable[Any], staged: dict[str, Any], new: Container[str]
    ) -> list[Any]:
        # The row each changed object is compared by is kept for the write (see _write_rows).
        originals, encode, encoded = self.originals, committed.codec.row, self.encoded
        written = []
        for obj_id, obj in staged.items():
            original = None if obj_id in new else originals.get((table, obj_id))
            if original is None:
                written.append(obj)
                continue
            row = encode(obj)
            if obj.events or row != original:
                written.append(obj)
                encoded[obj_id] = row
        return written

    def _check(self, db: MemoryDatabase, changed: Changed) -> None:
        unique: dict[str, tuple[Container[Any], Callable[[Any], Any]]] = {
            "accounts": (db.account_by_shop, lambda a: (a.tenant_id, a.shop_id)),
            "payouts": (db.payout_by_key, lambda p: (p.tenant_id, p.key)),
            "fundings": (db.funding_by_reference, lambda f: (f.tenant_id, f.reference)),
            "discrepancies": (db.discrepancy_by_key, lambda d: (d.tenant_id, d.key)),
            "freezes": (db.freeze_by_reference, lambda f: (f.tenant_id, f.reference)),
            "runs": (db.run_by_key, lambda r: (r.tenant_id, r.run_id)),
            "charges": (db.charge_by_reference, lambda c: (c.tenant_id, c.reference)),
            "collections": (db.collection_by_key, lambda c: (c.tenant_id, c.key)),
            "fee_calculations": (
                db.fee_calculation_by_event,
                lambda f: (f.tenant_id, f.order_id, f.sequence),
            ),
        }
        for table, written, new in changed:
            if table == "items":
                _check_items(db, written, new)
                continue
            committed: Committed[Any] = getattr(db, table)
            index, key_of = unique.get(table, (None, None))
            for obj in written:
                if obj.id not in new:
                    version = (
                        committed.rows[obj.id][committed.version_at]
                        if type(committed) is RowTable
                        else committed[obj.id].version
                    )
                    if version != obj.version:
                        raise ConcurrencyConflict(
                            f"{table} {obj.id} was changed by another writer; retry the command"
                        )
                    continue
                if obj.id in committed:
                    raise ConcurrencyConflict(f"{table} {obj.id} already exists")
                if index is not None and key_of is not None and key_of(obj) in index:
                    raise ConcurrencyConflict(
                        f"{table} key {key_of(obj)} was taken by another writer"
                    )
        nonces = [(e.channel, e.nonce) for e in self.staged_channel_events if e.nonce is not None]
        if len(set(nonces)) != len(nonces) or any(db.nonces.has(*n) for n in nonces):
            raise ConcurrencyConflict("a callback nonce was taken by another writer")
        for key, (expected, _) in self.staged_checkpoints.items():
            if db.checkpoints.get(key) != expected:
                raise ConcurrencyConflict(f"checkpoint {key} moved; run the job again")
        tips: dict[str, int] = {}
        for seal in self.staged_seals:
            tip = tips.get(seal.tenant_id, len(db.seals_by_tenant[seal.tenant_id]))
            if seal.transaction_id in db.seals or seal.seq != tip + 1:
                raise ConcurrencyConflict("another sealer extended the chain; seal again")
            tips[seal.tenant_id] = seal.seq
        posted = db.transaction_by_reference
        for kind, reference in self.new_transactions:
            if posted.has(kind, reference):
                raise ConcurrencyConflict(f"{kind} for {reference} was already posted")

    def _apply(self, db: MemoryDatabase, changed: Changed) -> None:
        events: list[Event] = []
        for table, written, new in changed:
            for obj in written:
                if obj.events:
                    events.extend(obj.events)
                    obj.events.clear()
                obj.version += 1
            if table == "items":
                _write_items(db, written, new)
            elif table == "statements":
                _write_statements(db, written, new, self.encoded)
            else:
                for obj in written:
                    _write(db, table, obj, obj.id in new, self.encoded)
        events.extend(self.recorded)
        db.index_transactions(self.transactions, self.balance_deltas, self.delta_currencies)
        for key, (_, value) in self.staged_checkpoints.items():
            db.checkpoints[key] = value
        for seal in self.staged_seals:
            db.seals[seal.transaction_id] = seal
            db.seals_by_tenant[seal.tenant_id].append(seal)
        answers = db.channel_events_by_payout
        for event in self.staged_channel_events:
            answers[event.payout_id] = (*answers.get(event.payout_id, ()), channel_event_row(event))
            if event.nonce is not None:
                db.nonces.put(event.channel, event.nonce, True)
        # Serialised when read, not here: commit stays cheap on the ingest path.
        new_id, row = self.ids.new_id, EVENT_KINDS.row
        # Chunks, not messages: the outbox list holds no entry per message for the collector.
        chunk: tuple[EventRow | OutboxMessage, ...] = (
            *(row(new_id(), event) for event in events),
            *self.extra_messages,
        )
        if chunk:
            _append_to_outbox(db, chunk)
        db.outbox_sent.update(self.sent)


_SMALL_CHUNK = 1024


def _append_to_outbox(db: MemoryDatabase, chunk: tuple[EventRow | OutboxMessage, ...]) -> None:
    # Small commits (an account opened, one item) extend the last chunk, or a store
    # would keep a chunk per commit. Only a chunk the relay's cursor has not moved
    # past may grow: the cursor keeps its offset, so no message is skipped.
    outbox = db.outbox
    if outbox and db.outbox_cursor < len(outbox) and len(outbox[-1]) + len(chunk) <= _SMALL_CHUNK:
        outbox[-1] = outbox[-1] + chunk
    else:
        outbox.append(chunk)


def _with_status(row: Row, status: str, version: int | None = None) -> Row:
    if ITEM_VERSION == ITEM_STATUS + 1 == len(row) - 1:
        # The two last fields (BillingItem's field order): one slice, no list per row.
        return (*row[:ITEM_STATUS], status, row[ITEM_VERSION] if version is None else version)
    values = list(row)
    values[ITEM_STATUS] = status
    if version is not None:
        values[ITEM_VERSION] = version
    return tuple(values)


def _check_items(db: MemoryDatabase, written: list[BillingItem], new: Container[str]) -> None:
    # The checks of the generic loop, spelt out for the table that takes thousands a batch.
    rows, keys = db.items, db.item_by_key
    for item in written:
        if item.id not in new:
            if rows[item.id][ITEM_VERSION] != item.version:
                raise ConcurrencyConflict(
                    f"items {item.id} was changed by another writer; retry the command"
                )
        elif item.id in rows:
            raise ConcurrencyConflict(f"items {item.id} already exists")
        elif keys.has(item.tenant_id, item.key):
            raise ConcurrencyConflict(
                f"items key {(item.tenant_id, item.key)} was taken by another writer"
            )


def _check_moves(db: MemoryDatabase, moved: list[tuple[str, Row, str]]) -> None:
    rows = db.items
    for item_id, original, _ in moved:
        if rows[item_id][ITEM_VERSION] != original[ITEM_VERSION]:
            raise ConcurrencyConflict(
                f"items {item_id} was changed by another writer; retry the command"
            )


def _apply_moves(db: MemoryDatabase, moved: list[tuple[str, Row, str]]) -> None:
    rows, at = db.items, ITEM_VERSION
    for item_id, original, status in moved:
        rows[item_id] = _with_status(original, status, original[at] + 1)


def _unchanged_item(original: Any, obj: Any) -> bool:
    return bool(ITEMS.row(obj) == original)


def _write_items(db: MemoryDatabase, written: list[BillingItem], new: Container[str]) -> None:
    rows, row = db.items, ITEMS.row
    for item in written:
        rows[item.id] = row(item)
    db.index_items([item for item in written if item.id in new])


def _write_statements(
    db: MemoryDatabase, written: list[Statement], new: Container[str], encoded: dict[str, Row]
) -> None:
    # Rows: the objects stay the callers'. A row encoded for the comparison in _changed
    # is reused, with the version the commit just gave the object.
    table = db.statements
    rows, at, encode = table.rows, table.version_at, table.codec.row
    for statement in written:
        row = encoded.get(statement.id)
        row = encode(statement) if row is None else (*row[:at], statement.version, *row[at + 1 :])
        old = (
            None
            if statement.id in new
            else STATEMENT_STATUSES[rows[statement.id][STATEMENT_STATUS]]
        )
        rows[statement.id] = row
        db.index_statement(statement, old)


def _write(db: MemoryDatabase, table: str, obj: Any, is_new: bool, encoded: dict[str, Row]) -> None:
    committed: Committed[Any] = getattr(db, table)
    if table == "payouts":
        old = None if is_new else PAYOUT_STATUSES[db.payouts.rows[obj.id][PAYOUT_STATUS]]
        db.index_payout(obj.id, old, obj.status)
    if isinstance(committed, RowTable):
        # The row encoded for the change check, with the version the commit just gave.
        row, at = encoded.get(obj.id), committed.version_at
        committed.put(obj, None if row is None else (*row[:at], obj.version, *row[at + 1 :]))
        stored = obj  # read below for the indexes only
    else:
        # Aggregates may be returned to callers, so the database keeps its own copy.
        stored = clone(obj)
        committed[obj.id] = stored
    if table == "accounts" and is_new:
        db.index_account(stored)
    elif table == "payouts" and is_new:
        db.payout_by_key[(stored.tenant_id, stored.key)] = stored.id
    elif table == "fundings" and is_new:
        db.funding_by_reference[(stored.tenant_id, stored.reference)] = stored.id
    elif table == "runs" and is_new:
        db.run_by_key[(stored.tenant_id, stored.run_id)] = stored.id
    elif table == "charges" and is_new:
        db.charge_by_reference[(stored.tenant_id, stored.reference)] = stored.id
    elif table == "collections" and is_new:
        db.collection_by_key[(stored.tenant_id, stored.key)] = stored.id
    elif table == "fee_calculations" and is_new:
        db.fee_calculation_by_event[(stored.tenant_id, stored.order_id, stored.sequence)] = (
            stored.id
        )
    elif table == "freezes" and is_new:
        db.freeze_by_reference[(stored.tenant_id, stored.reference)] = stored.id
    elif table == "discrepancies" and is_new:
        db.discrepancy_by_key[(stored.tenant_id, stored.key)] = stored.id
