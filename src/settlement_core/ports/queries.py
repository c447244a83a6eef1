"""Query filters and pages (R-QRY-1). Every filter names its tenant (R-SEC-2)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from attrs import frozen

from settlement_core.lifecycle import BillingItemStatus, PayoutStatus, StatementStatus

T = TypeVar("T")

MAX_PAGE_SIZE = 1000


@frozen(kw_only=True)
class ItemFilter:
    """Billing items of one tenant, narrowed by any of the optional fields."""

    tenant_id: str
    account_id: str | None = None
    status: BillingItemStatus | None = None
    statement_id: str | None = None
    order_id: str | None = None
    currency: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    amount_min_minor: int | None = None
    amount_max_minor: int | None = None


@frozen(kw_only=True)
class StatementFilter:
    """Statements of one tenant; `period_*` match the period's start."""

    tenant_id: str
    account_id: str | None = None
    status: StatementStatus | None = None
    currency: str | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None


@frozen(kw_only=True)
class PayoutFilter:
    """Payouts of one tenant."""

    tenant_id: str
    account_id: str | None = None
    status: PayoutStatus | None = None
    currency: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    amount_min_minor: int | None = None
    amount_max_minor: int | None = None
    channel: str | None = None
    release_id: str | None = None


@frozen
class ChannelTotal:
    """An amount per channel and currency, and how many payouts make it."""

    channel: str
    currency: str
    total_minor: int
    count: int


@frozen
class LedgerAudit:
    """What the journal holds, summed in storage, for reconciliation (R-REC-1).

    `unbalanced` lists (transaction id, currency, what its legs sum to) for every
    transaction that does not balance; `entry_sums` is the sum of entries per
    (ledger account, currency); `cached` the stored balance of the same accounts.
    """

    unbalanced: tuple[tuple[str, str, int], ...]
    entry_sums: Mapping[tuple[str, str], int]
    cached: Mapping[tuple[str, str], int]


@frozen
class AccountDue:
    """What one account's unpaid statements due by some instant add up to."""

    account_id: str
    channel: str
    currency: str
    total_minor: int


class ClosedStatement(NamedTuple):
    """A statement a bulk close moved through "close": what the close's events need.

    A tuple of plain values: a close makes one per statement, and the garbage
    collector stops tracking such a tuple at its first look.
    """

    id: str
    tenant_id: str
    source: str  # the status it left
    total_minor: int  # its running total
    recount_minor: int  # the full recount of its items, stored on it


@frozen
class Page(Generic[T]):
    """One page of results in id order; pass `next_cursor` to get the next one."""

    items: Sequence[T]
    next_cursor: str | None


def paged(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paged query: `fetch(cursor)` is called page after page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return
