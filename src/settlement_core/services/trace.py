"""Tracing one order end to end (R-OPS-1): item -> statement -> payout -> release -> channel.

Everything the library holds about an order, and a timeline of it: its billing
items, the statements that carry them, the payouts that paid those statements
(including ones that failed or came back, and the payouts that replaced them),
their release summaries, every answer their channels gave, and every journal
transaction about any of these objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from attrs import frozen

from settlement_core.ids import external_id
from settlement_core.ledger import JournalTransaction
from settlement_core.model import BillingItem, ChannelEvent, Payout, ReleaseSummary, Statement
from settlement_core.ports import ItemFilter, PayoutFilter, UnitOfWork
from settlement_core.services.context import Context


@frozen
class TraceStep:
    """One thing that happened to the order, or to something that carries it."""

    at: datetime
    what: str  # item, statement, payout, release, channel, ledger
    ref: str
    detail: str


@frozen(kw_only=True)
class OrderTrace:
    """Every object an order touches, and the timeline, oldest first."""

    tenant_id: str
    order_id: str
    items: tuple[BillingItem, ...]
    statements: tuple[Statement, ...]
    payouts: tuple[Payout, ...]
    releases: tuple[ReleaseSummary, ...]
    channel_events: tuple[ChannelEvent, ...]
    transactions: tuple[JournalTransaction, ...]
    timeline: tuple[TraceStep, ...]


def trace_order(ctx: Context, tenant_id: str, order_id: str) -> OrderTrace:
    """Follow one order of one tenant through everything that carries its money."""
    external_id(tenant_id, "tenant_id")
    external_id(order_id, "order_id")
    with ctx.uow() as uow:
        items = _all_items(uow, tenant_id, order_id, ctx.batch_size)
        statement_ids = sorted({i.statement_id for i in items})
        statements = [uow.statements.get(tenant_id, s) for s in statement_ids]
        payouts = _payouts_of(uow, tenant_id, statements, ctx.batch_size)
        release_ids = sorted({p.release_id for p in payouts if p.release_id is not None})
        releases = [uow.releases.get(tenant_id, r) for r in release_ids]
        events = [e for p in payouts for e in uow.channel_events.for_payout(tenant_id, p.id)]
        refs = [*(i.id for i in items), *statement_ids, *(p.id for p in payouts), *release_ids]
        transactions = uow.ledger.by_references(tenant_id, refs)
    timeline = sorted(
        _steps(items, statements, payouts, releases, events, transactions),
        key=lambda s: (s.at, _ORDER[s.what], s.ref),
    )
    return OrderTrace(
        tenant_id=tenant_id,
        order_id=order_id,
        items=tuple(items),
        statements=tuple(statements),
        payouts=tuple(payouts),
        releases=tuple(releases),
        channel_events=tuple(events),
        transactions=tuple(transactions),
        timeline=tuple(timeline),
    )


# Within one instant, show causes before effects.
_ORDER = {"item": 0, "ledger": 1, "statement": 2, "payout": 3, "release": 4, "channel": 5}


def _all_items(uow: UnitOfWork, tenant_id: str, order_id: str, batch: int) -> list[BillingItem]:
    found: list[BillingItem] = []
    cursor: str | None = None
    while True:
        page = uow.items.query(ItemFilter(tenant_id=tenant_id, order_id=order_id), cursor, batch)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


def _payouts_of(
    uow: UnitOfWork, tenant_id: str, statements: list[Statement], batch: int
) -> list[Payout]:
    wanted = {s.id for s in statements}
    found: dict[str, Payout] = {}
    for account_id in sorted({s.account_id for s in statements}):
        cursor: str | None = None
        while True:
            where = PayoutFilter(tenant_id=tenant_id, account_id=account_id)
            page = uow.payouts.query(where, cursor, batch)
            for payout in page.items:
                if wanted.intersection(payout.statement_ids):
                    found[payout.id] = payout
            cursor = page.next_cursor
            if cursor is None:
                break
    return sorted(found.values(), key=lambda p: p.id)


def _steps(
    items: list[BillingItem],
    statements: list[Statement],
    payouts: list[Payout],
    releases: list[ReleaseSummary],
    events: list[ChannelEvent],
    transactions: list[JournalTransaction],
) -> Iterator[TraceStep]:
    for i in items:
        yield TraceStep(
            i.recorded_at, "item", i.id, f"{i.kind} {i.amount_minor} {i.currency}, {i.status}"
        )
    for s in statements:
        yield TraceStep(
            s.opened_at,
            "statement",
            s.id,
            f"{s.period.start:%Y-%m-%d}..{s.period.end:%Y-%m-%d} {s.status},"
            f" total {s.total_minor} {s.currency}",
        )
    for p in payouts:
        links = f", replaces {','.join(p.replaces)}" if p.replaces else ""
        links += f", replaced by {p.replaced_by}" if p.replaced_by else ""
        yield TraceStep(
            p.created_at,
            "payout",
            p.id,
            f"{p.amount_minor} {p.currency} via {p.channel}, {p.status}{links}",
        )
    for r in releases:
        yield TraceStep(r.created_at, "release", r.id, f"{r.channel} {r.currency}, {r.status}")
    for e in events:
        applied = "applied" if e.applied else "not applied"
        code = f" ({e.code})" if e.code else ""
        yield TraceStep(
            e.received_at,
            "channel",
            e.idempotency_key,
            f"{e.source}: {e.outcome}{code}, {applied}",
        )
    for t in transactions:
        legs = ", ".join(f"{x.account} {x.amount_minor:+d} {x.currency}" for x in t.entries)
        yield TraceStep(t.occurred_at, "ledger", t.id, f"{t.kind}: {legs}")
