"""Collectors (R-ING-6, seed 001): pull an order source in small windows into billing items.

`collect` reads a source window by window (a minute by default) from a
checkpoint kept in storage, each window re-reading `lateness` back so late
records are still seen; maps every record through the source's field mapping
and its status flow, and books the entries in one transaction per window,
moving the checkpoint in the same transaction (compare-and-set). Every item's
key derives from the source, the order and the entry rule, so re-read windows,
overlaps and re-runs book each entry once. A source that is down stops the run
where it is; the next run catches up from the checkpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from settlement_core.errors import (
    ConcurrencyConflict,
    SettlementError,
    SourceUnavailable,
    ValidationError,
)
from settlement_core.ids import external_id
from settlement_core.intake import Book, FieldMapping, StatusFlow, Window, WindowPlan, plain_orders
from settlement_core.model import ItemKind, RecordBillingItem
from settlement_core.money import to_minor
from settlement_core.ports import OrderSource, SourceRecord
from settlement_core.services.context import Context, retrying
from settlement_core.services.ingest import ItemReceipt, book_in, count_ingested
from settlement_core.services.order_receivables import (
    open_order_receivable_account,
    order_receivable_shop,
)

CHECKPOINT_PREFIX = "collect:"
# Checkpoint names are stored in 64 characters.
MAX_SOURCE_NAME = 64 - len(CHECKPOINT_PREFIX)


@frozen
class Rejected:
    """A source record the collector could not book, and why (it is reported, not stored)."""

    changed_at: datetime
    reason: str


@frozen
class CollectReport:
    """What one collect call did; `source_error` says why it stopped early, if it did."""

    source: str
    windows: int
    recorded: int
    replayed: int
    rejected: tuple[Rejected, ...]
    checkpoint: datetime | None
    source_error: str | None = None


def checkpoint_name(source: OrderSource) -> str:
    """The checkpoint a source's collector keeps its place in."""
    return f"{CHECKPOINT_PREFIX}{source.name}"


def collect(
    ctx: Context,
    source: OrderSource,
    mapping: FieldMapping,
    as_of: datetime,
    *,
    flow: StatusFlow | None = None,
    plan: WindowPlan | None = None,
    start: datetime | None = None,
) -> CollectReport:
    """Collect every complete window of `source` up to `as_of`, from its checkpoint.

    Idempotent by item key `{source}:{order}:{entry rule}`: the same record
    read twice books nothing new. `start` is where a source with no checkpoint
    begins. Records that do not fit the mapping, or whose content changed under
    a key already booked, are reported in `rejected` and not stored.
    """
    name = external_id(source.name, "source name")
    if len(name) > MAX_SOURCE_NAME:
        raise ValidationError(f"a source name has at most {MAX_SOURCE_NAME} characters")
    tenant_id = external_id(source.tenant_id, "tenant_id")
    as_of = ctx.not_after_now(as_of, "as_of")
    flow = flow or plain_orders()
    plan = plan or WindowPlan()
    with ctx.uow() as uow:
        stored = uow.checkpoints.get(tenant_id, checkpoint_name(source))
    if stored is None and start is None:
        raise ValidationError(f"source {name!r} has no checkpoint yet; say where it starts")
    position = (
        datetime.fromisoformat(stored) if stored is not None else ctx.not_after_now(start, "start")
    )
    collection = _Pull(ctx, source, mapping, flow)
    windows = 0
    error: str | None = None
    for window in plan.windows(position, as_of):
        try:
            records = source.fetch(window.read_from, window.end)
        except SourceUnavailable as exc:
            error = str(exc)
            break
        if not collection.book_window(window, records, stored):
            error = "another collector moved the checkpoint; this run stopped"
            break
        stored = window.end.isoformat()
        position = window.end
        windows += 1
    return CollectReport(
        name,
        windows,
        collection.recorded,
        collection.replayed,
        tuple(collection.rejected.values()),
        position if stored is not None else None,
        error,
    )


class _Pull:
    """One collect call's state: counters, rejections and the receivable accounts it opened."""

    def __init__(
        self, ctx: Context, source: OrderSource, mapping: FieldMapping, flow: StatusFlow
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.mapping = mapping
        self.flow = flow
        self.recorded = 0
        self.replayed = 0
        self.rejected: dict[tuple[datetime, str], Rejected] = {}
        self.receivables: set[str] = set()

    def _reject(self, record: SourceRecord, reason: str) -> None:
        # Overlapping windows read a bad record more than once; report it once.
        self.rejected.setdefault((record.changed_at, reason), Rejected(record.changed_at, reason))

    def commands(
        self, records: Sequence[SourceRecord]
    ) -> list[tuple[SourceRecord, RecordBillingItem]]:
        """The item requests of a window's records; records that do not fit are rejected."""
        found = []
        for record in records:
            try:
                order = self.mapping.apply(record.fields)
                for entry in self.flow.entries(order):
                    shop = order.shop_id
                    if entry.book is Book.RECEIVABLE:
                        shop = self._receivable(shop)
                    minor = to_minor(entry.amount)
                    cmd = RecordBillingItem(
                        tenant_id=self.source.tenant_id,
                        shop_id=shop,
                        key=f"{self.source.name}:{order.order_id}:{entry.rule}",
                        order_id=order.order_id,
                        kind=ItemKind.SALE if minor > 0 else ItemKind.REFUND,
                        amount=entry.amount,
                        occurred_at=entry.dated_at,
                    )
                    found.append((record, cmd))
            except ConcurrencyConflict:
                raise
            except SettlementError as exc:  # RecordRejected, or a bad id, amount or date
                self._reject(record, str(exc))
        return found

    def _receivable(self, shop_id: str) -> str:
        if shop_id not in self.receivables:
            open_order_receivable_account(self.ctx, self.source.tenant_id, shop_id)
            self.receivables.add(shop_id)
        return order_receivable_shop(shop_id)

    def book_window(
        self, window: Window, records: Sequence[SourceRecord], stored: str | None
    ) -> bool:
        """Book a window's entries and move the checkpoint past it; False if another run did."""
        commands = self.commands(records)
        size = self.ctx.batch_size
        chunks = [commands[i : i + size] for i in range(0, len(commands), size)] or [[]]
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1
            attempt = functools.partial(self._book, chunk, window, stored if last else None, last)
            if not retrying(attempt):
                return False
        return True

    def _book(
        self,
        chunk: list[tuple[SourceRecord, RecordBillingItem]],
        window: Window,
        expected: str | None,
        move: bool,
    ) -> bool:
        ctx = self.ctx
        tenant_id = self.source.tenant_id
        name = checkpoint_name(self.source)
        receipts: list[ItemReceipt] = []
        rejected: list[tuple[SourceRecord, str]] = []
        with ctx.uow() as uow:
            if move and uow.checkpoints.get(tenant_id, name) != expected:
                return False
            uow.items.find_by_keys(tenant_id, [cmd.key for _, cmd in chunk])
            for record, cmd in chunk:
                try:
                    receipt = book_in(ctx, uow, cmd)
                except ConcurrencyConflict:
                    raise
                except SettlementError as exc:
                    rejected.append((record, str(exc)))
                    continue
                receipts.append(receipt)
            if move:
                uow.checkpoints.put(tenant_id, name, window.end.isoformat(), expected)
            uow.commit()
        # Counted once the transaction holds: a retried attempt counts nothing twice.
        replayed = sum(1 for r in receipts if r.replayed)
        self.recorded += len(receipts) - replayed
        self.replayed += replayed
        count_ingested(ctx, receipts)
        for record, reason in rejected:
            self._reject(record, reason)
        return True
