"""Committed journal transactions and outbox events as flat tuples of plain values.

Every booked item leaves a journal transaction (an object, a tuple and two
entries) and an event behind. Kept as objects, they are what Python's cyclic
garbage collector walks on every full collection, which made ingest and the
jobs slower per item the more the store held. A tuple holding only strings,
numbers, datetimes and None is untracked by the collector after its first
pass, so the store keeps those rows and rebuilds objects when they are read.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from settlement_core.ledger import Entry, JournalRecord, JournalTransaction
from settlement_core.model import AnswerSource, ChannelEvent, Event

# (id, tenant, kind, reference, occurred_at, reverses, then account, currency, minor per leg)
TransactionRow = tuple[Any, ...]
# (message id, event type code, then the event's fields in attrs order)
EventRow = tuple[Any, ...]

_HEAD = 6
_new_object = object.__new__
_set = object.__setattr__


def transaction_row(t: JournalTransaction) -> TransactionRow:
    """The row of a posted transaction."""
    entries = t.entries
    if len(entries) == 2:  # most postings are transfers: spelt out, it is twice as fast
        a, b = entries
        # fmt: off
        return (
            t.id, t.tenant_id, t.kind, t.reference, t.occurred_at, t.reverses,
            a.account, a.currency, a.amount_minor, b.account, b.currency, b.amount_minor,
        )
        # fmt: on
    head = (t.id, t.tenant_id, t.kind, t.reference, t.occurred_at, t.reverses)
    return head + tuple(v for e in entries for v in (e.account, e.currency, e.amount_minor))


def legs(row: TransactionRow) -> Iterator[tuple[Any, Any, Any]]:
    """A row's legs as (ledger account, currency, minor units)."""
    legs = iter(row[_HEAD:])
    return zip(legs, legs, legs, strict=True)


def as_transaction(row: TransactionRow | JournalTransaction) -> JournalTransaction:
    """The transaction a row holds, exactly as stored (not validated again)."""
    if type(row) is not tuple:
        return row  # type: ignore[return-value]
    tx: JournalTransaction = _new_object(JournalTransaction)
    names = ("id", "tenant_id", "kind", "reference", "occurred_at", "reverses")
    for name, value in zip(names, row[:_HEAD], strict=True):
        _set(tx, name, value)
    _set(tx, "entries", tuple(Entry(a, c, m) for a, c, m in legs(row)))
    return tx


def as_record(row: TransactionRow | JournalTransaction) -> JournalRecord:
    """The record (plain legs) of a row or of a transaction kept as an object."""
    if type(row) is tuple:
        tx_id, tenant_id, kind, reference, occurred_at, reverses = row[:_HEAD]
        entries = tuple(legs(row))
        return JournalRecord(tx_id, tenant_id, kind, reference, occurred_at, reverses, entries)
    t: JournalTransaction = row  # type: ignore[assignment]
    entries = tuple((e.account, e.currency, e.amount_minor) for e in t.entries)
    return JournalRecord(t.id, t.tenant_id, t.kind, t.reference, t.occurred_at, t.reverses, entries)


def tenant_and_reference(row: TransactionRow | JournalTransaction) -> tuple[str, str]:
    """Who posted a row and what it is about, without building the transaction."""
    if type(row) is tuple:
        return row[1], row[3]
    t: JournalTransaction = row  # type: ignore[assignment]
    return t.tenant_id, t.reference


_CHUNK = 1 << 32  # a locator is chunk * _CHUNK + offset: one int, never tracked


class PostedTransactions:
    """The journal in posting order, looked up by id.

    Each commit's transactions are one chunk (a tuple of rows), and ids map to
    an int locator, so neither the list nor the dict has an entry per row for
    the collector to visit. `[id]` hands out the transaction and keeps that very
    object from then on, so a change made to it stays (the tamper helpers of
    the tests rely on it); `get` and iteration build fresh objects.
    """

    def __init__(self) -> None:
        self._chunks: list[tuple[TransactionRow, ...]] = []
        self._at: dict[str, int] = {}
        self._kept: dict[str, JournalTransaction] = {}
        self._count = 0

    def extend(self, rows: Sequence[TransactionRow]) -> None:
        """Store one commit's transactions (as rows) as a chunk."""
        if not rows:
            return
        base = len(self._chunks) * _CHUNK
        # The chunk goes in before its locators: a reader (who takes no lock) never
        # finds a locator without its chunk.
        self._chunks.append(tuple(rows))
        for offset, row in enumerate(rows):
            self._at[row[0]] = base + offset
        self._count += len(rows)

    def __len__(self) -> int:
        """How many transactions are posted."""
        return self._count

    def __contains__(self, transaction_id: object) -> bool:
        """Whether a transaction with this id is posted."""
        return transaction_id in self._at

    def __getitem__(self, transaction_id: str) -> JournalTransaction:
        """The transaction, kept as this object from now on."""
        found = self.row(transaction_id)
        if found is None:
            raise KeyError(transaction_id)
        kept = self._kept[transaction_id] = as_transaction(found)
        return kept

    def get(self, transaction_id: str) -> JournalTransaction | None:
        """The transaction, or None."""
        found = self.row(transaction_id)
        return None if found is None else as_transaction(found)

    def row(self, transaction_id: str) -> TransactionRow | JournalTransaction | None:
        """The row (or the object kept in its place) of a transaction, or None."""
        kept = self._kept.get(transaction_id)
        if kept is not None:
            return kept
        at = self._at.get(transaction_id)
        if at is None:
            return None
        chunk, offset = divmod(at, _CHUNK)
        return self._chunks[chunk][offset]

    def rows(self) -> list[TransactionRow | JournalTransaction]:
        """The rows in posting order (objects where one is kept)."""
        kept = self._kept
        every: list[TransactionRow | JournalTransaction] = [
            row for chunk in list(self._chunks) for row in chunk
        ]
        if kept:
            every = [kept.get(row[0], row) if type(row) is tuple else row for row in every]
        return every

    def __iter__(self) -> Iterator[JournalTransaction]:
        """The transactions in posting order."""
        return (as_transaction(row) for row in self.rows())


class _EventKinds:
    """Event types by a small code, with how to read and rebuild each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[type, int] = {}
        self._kinds: list[tuple[type, tuple[str, ...], Callable[[Any], Any]]] = []

    def code(self, kind: type) -> int:
        """The code of an event type, registered on first use."""
        code = self._codes.get(kind)
        if code is None:
            with self._lock:
                code = self._codes.get(kind)
                if code is None:
                    names = tuple(f.name for f in attrs.fields(kind))
                    getter = operator.attrgetter(*names) if len(names) > 1 else _one(names)
                    self._kinds.append((kind, names, getter))
                    code = self._codes[kind] = len(self._kinds) - 1
        return code

    def row(self, message_id: str, event: Event) -> EventRow:
        """The row of one event under its outbox message id."""
        code = self.code(type(event))
        values: tuple[Any, ...] = self._kinds[code][2](event)
        return (message_id, code, *values)

    def event(self, row: EventRow) -> Event:
        """The event a row holds, as it was raised (frozen events are rebuilt field by field)."""
        kind, names, _ = self._kinds[row[1]]
        event: Event = _new_object(kind)
        for name, value in zip(names, row[2:], strict=True):
            _set(event, name, value)
        return event


def _one(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    get = operator.attrgetter(*names)
    return lambda obj: (get(obj),)


EVENT_KINDS = _EventKinds()


# A channel answer's fields in attrs order; its source is stored as the enum's value.
_ANSWER_FIELDS = tuple(f.name for f in attrs.fields(ChannelEvent))
_SOURCE_AT = _ANSWER_FIELDS.index("source")


def channel_event_row(event: ChannelEvent) -> tuple[Any, ...]:
    """The row of a channel answer (an enum member would keep the row tracked)."""
    row = [getattr(event, name) for name in _ANSWER_FIELDS]
    row[_SOURCE_AT] = event.source.value
    return tuple(row)


def channel_event_from(row: tuple[Any, ...]) -> ChannelEvent:
    """The channel answer a row holds."""
    values = dict(zip(_ANSWER_FIELDS, row, strict=True))
    values["source"] = AnswerSource(values["source"])
    return ChannelEvent(**values)
