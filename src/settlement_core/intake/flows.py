"""Order-status-driven flows (R-ING-7, seed 002): which entries an order's status implies.

A flow is data: each entry rule names the book it goes to (the partner's
receivable or its settlement), its sign, the order statuses that imply it, the
instant it is dated by (the first of `dated_by` the record carries) and which of
the record's amounts it books. Entries follow from the status an order has
reached, not from the path it took, so events arriving out of order (a refund
before its fulfilment) produce the same entries: each entry is keyed by order
and rule, booked once, never withdrawn. An entry whose date the record does not
carry yet waits for a record that does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from attrs import field, frozen

from settlement_core.errors import RecordRejected
from settlement_core.intake.fields import OrderRecord
from settlement_core.money import Money, from_minor, to_minor


class Book(enum.StrEnum):
    """Where an entry goes: what the partner owes us, or what we settle with it."""

    RECEIVABLE = "receivable"
    SETTLEMENT = "settlement"


class OrderStatus(enum.StrEnum):
    """The order lifecycle of seed 002 (its names in parentheses)."""

    PLACED = "placed"  # LOCKED: the order succeeded
    FULFILLING = "fulfilling"  # FIXING: ticketing in progress
    FULFILLED = "fulfilled"  # FIXED: ticket issued
    CANCELLED = "cancelled"  # CANCELED
    REFUNDING = "refunding"  # REFUNDING: the supplier refunded, the partner's refund runs
    REFUNDED = "refunded"  # REFUNDED
    REFUND_FAILED = "refund_failed"  # REFUND_FAIL


@frozen
class EntryRule:
    """One entry an order's status implies; `name` is part of the item's key."""

    name: str
    book: Book
    sign: int
    statuses: frozenset[str]
    dated_by: tuple[str, ...]
    amount: str = "amount"

    def __attrs_post_init__(self) -> None:
        if self.sign not in (1, -1):
            raise RecordRejected(f"entry rule {self.name!r} needs a sign of +1 or -1")
        if not self.dated_by:
            raise RecordRejected(f"entry rule {self.name!r} needs a time basis")


@frozen
class FlowEntry:
    """An entry to book for one order: signed amount, book and the instant it is dated by."""

    rule: str
    book: Book
    amount: Money
    dated_at: datetime


def _frozen(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@frozen
class StatusFlow:
    """Entry rules plus aliases from a source's status names to the flow's."""

    rules: tuple[EntryRule, ...]
    aliases: Mapping[str, str] = field(factory=dict, converter=_frozen)
    # With no status rules every record books its amount as it is (a plain order feed).
    any_status: bool = False

    @property
    def statuses(self) -> frozenset[str]:
        """Every status the flow knows."""
        return frozenset(s for rule in self.rules for s in rule.statuses)

    def status_of(self, record: OrderRecord) -> str | None:
        """The record's status in the flow's names, or RecordRejected if it is unknown."""
        if self.any_status:
            return None
        raw = record.status
        if raw is None:
            raise RecordRejected(f"order {record.order_id} has no status")
        status = self.aliases.get(raw, raw)
        if status not in self.statuses:
            raise RecordRejected(f"order {record.order_id} has unknown status {raw!r}")
        return status

    def entries(self, record: OrderRecord) -> list[FlowEntry]:
        """The entries the record's status implies and whose date it carries."""
        status = self.status_of(record)
        found = []
        for rule in self.rules:
            if status is not None and status not in rule.statuses:
                continue
            dated = next((record.times[t] for t in rule.dated_by if t in record.times), None)
            if dated is None:
                continue  # a later record of the order will carry it
            amount = record.amount(rule.amount)
            signed = to_minor(amount) * rule.sign
            if signed:
                found.append(
                    FlowEntry(rule.name, rule.book, from_minor(signed, amount.currency), dated)
                )
        return found


def plain_orders(dated_by: str = "occurred_at", amount: str = "amount") -> StatusFlow:
    """One settlement entry per order, of its amount as given (negative for a refund)."""
    rule = EntryRule("order", Book.SETTLEMENT, 1, frozenset(), (dated_by,), amount)
    return StatusFlow((rule,), any_status=True)


_S = OrderStatus
SEED_FLOW = StatusFlow(
    (
        # Receivable from the partner, dated by the order's success time.
        EntryRule(
            "receivable+",
            Book.RECEIVABLE,
            1,
            frozenset(s.value for s in _S),
            ("placed_at",),
        ),
        # Given back when it refunds (its refund time) or cancels (its cancel time).
        EntryRule(
            "receivable-",
            Book.RECEIVABLE,
            -1,
            frozenset({_S.CANCELLED.value, _S.REFUNDED.value}),
            ("refunded_at", "cancelled_at"),
        ),
        # Settlement once the ticket is issued, dated by the issue time.
        EntryRule(
            "settlement+",
            Book.SETTLEMENT,
            1,
            frozenset(
                {_S.FULFILLED.value, _S.REFUNDING.value, _S.REFUNDED.value, _S.REFUND_FAILED.value}
            ),
            ("fulfilled_at",),
        ),
        # Reversed when the supplier refunds the ticket, dated by that refund.
        EntryRule(
            "settlement-",
            Book.SETTLEMENT,
            -1,
            frozenset({_S.REFUNDING.value, _S.REFUNDED.value, _S.REFUND_FAILED.value}),
            ("supplier_refunded_at",),
        ),
    ),
    aliases={
        "LOCKED": _S.PLACED.value,
        "FIXING": _S.FULFILLING.value,
        "FIXED": _S.FULFILLED.value,
        "ticketed": _S.FULFILLED.value,
        "CANCELED": _S.CANCELLED.value,
        "REFUNDING": _S.REFUNDING.value,
        "REFUNDED": _S.REFUNDED.value,
        "REFUND_FAIL": _S.REFUND_FAILED.value,
    },
)
"""Seed 002's table: receivable and settlement entries, positive and negative, and their times."""
