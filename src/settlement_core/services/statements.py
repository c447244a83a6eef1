"""Finding or opening the statement an item belongs to, and closing cycles (R-CYC-1, 2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from attrs import frozen

from settlement_core.lifecycle import BillingItemStatus, StatementStatus, destination
from settlement_core.model import (
    CLOSE_TRIGGER,
    Account,
    BillingItemsMoved,
    Statement,
    StatementOpened,
)
from settlement_core.ports import BusinessCalendar, ClosedStatement, UnitOfWork
from settlement_core.rules import Cycle, Period, payout_date, resolve_zone
from settlement_core.services.context import Context, retrying

_PERIODS_KEPT = 8


class Periods:
    """The periods and payout dates one command worked out, for the statements it opens next.

    A batch opens statements for many accounts on the same cycles and days. The
    periods of one cycle in one zone tile time, so a period found for one instant
    answers for every instant it holds; a payout date depends on nothing but the
    period's end, the zone, the delay and the calendar.
    """

    __slots__ = ("_calendar", "_due", "_natural")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self._calendar = calendar
        self._natural: dict[tuple[Cycle, ZoneInfo], list[Period]] = {}
        self._due: dict[tuple[datetime, ZoneInfo, int], tuple[date, datetime]] = {}

    def natural(self, cycle: Cycle, zone: ZoneInfo, instant: datetime) -> Period:
        """The period of `cycle` in `zone` that holds `instant`."""
        found = self._natural.setdefault((cycle, zone), [])
        # A batch's items mostly fall in a few recent periods: the last ones found are
        # kept (a few, so a batch spread over years costs no long scans).
        for period in found:
            if period.start <= instant < period.end:
                return period
        period = cycle.period_containing(instant, zone)
        found.insert(0, period)
        del found[_PERIODS_KEPT:]
        return period

    def due(self, period: Period, zone: ZoneInfo, delay_days: int) -> tuple[date, datetime]:
        """The local payout date of a period and the instant it becomes payable."""
        key = (period.end, zone, delay_days)
        known = self._due.get(key)
        if known is None:
            pay_on = payout_date(period, zone, delay_days, self._calendar)
            payable_at = datetime.combine(pay_on, time(0), tzinfo=zone).astimezone(UTC)
            known = self._due[key] = (pay_on, payable_at)
        return known


def statement_for(
    ctx: Context,
    uow: UnitOfWork,
    account: Account,
    currency: str,
    occurred_at: datetime,
    now: datetime,
    periods: Periods | None = None,
) -> Statement:
    """The open statement an item dated `occurred_at` goes on, opened if needed.

    An item whose period is already closed goes on the statement of the cycle
    running now: late items and refunds net against the next cycle. `periods`
    carries what earlier calls of the same command worked out.
    """
    instant = occurred_at
    found = uow.statements.find_covering(account.id, currency, instant)
    while found is not None and not found.is_open:
        instant = max(now, found.period.end)
        found = uow.statements.find_covering(account.id, currency, instant)
    if found is not None:
        return found
    memo = Periods(ctx.calendar) if periods is None else periods
    return _open(ctx, uow, account, currency, instant, now, memo)


def _open(
    ctx: Context,
    uow: UnitOfWork,
    account: Account,
    currency: str,
    instant: datetime,
    now: datetime,
    periods: Periods,
) -> Statement:
    zone = resolve_zone(account.time_zone)
    rule = ctx.rules.rule(account.rule_id, instant)
    natural = periods.natural(rule.cycle, zone, instant)
    # A rule change can alter the cycle; clipping to the neighbours keeps periods tiling.
    prev_end, next_start = uow.statements.neighbours(account.id, currency, instant)
    start = max(natural.start, prev_end) if prev_end else natural.start
    end = min(natural.end, next_start) if next_start else natural.end
    period = natural if (start, end) == (natural.start, natural.end) else Period(start, end)
    pay_on, payable_at = periods.due(period, zone, rule.delay_days)
    statement = Statement(
        id=ctx.ids.new_id(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        currency=currency,
        period=period,
        rule=rule,
        payout_date=pay_on,
        payable_at=payable_at,
        opened_at=now,
    )
    statement.events.append(
        StatementOpened(
            tenant_id=account.tenant_id,
            at=now,
            statement_id=statement.id,
            account_id=account.id,
            currency=currency,
            period_start=period.start,
            period_end=period.end,
            rule_id=rule.rule_id,
            rule_version=rule.version,
        )
    )
    uow.statements.add(statement)
    return statement


@frozen
class CloseReport:
    """What a close run did: statements closed, and those whose recount disagreed."""

    closed: int
    mismatched: tuple[str, ...]


def close_cycles(ctx: Context, as_of: datetime) -> CloseReport:
    """Close every open statement whose period ended by `as_of` (R-CYC-2).

    Each statement's running total is compared with a full recount of its items;
    a disagreement is recorded on the statement and as an event, and keeps the
    statement out of payouts. Works in batches of `ctx.batch_size`, one
    transaction each, so a crash loses at most one batch and a re-run resumes.
    The close of a batch is set-based (one recount, one bulk write); its events
    are the ones `Statement.close` records, one set per statement.
    """
    as_of = ctx.not_after_now(as_of, "as_of")
    closed = 0
    mismatched: list[str] = []
    # Asked once for every bulk write: which states "close" leaves and enters.
    dest = destination(StatementStatus, "close")

    def batch() -> list[ClosedStatement]:
        with ctx.uow() as uow:
            now = ctx.now()
            done = uow.statements.close_due(as_of, ctx.batch_size, now)
            for s in done:
                source = StatementStatus(s.source)
                for event in Statement.closed_in_bulk(
                    s.tenant_id, s.id, source, dest, s.total_minor, s.recount_minor, now
                ):
                    uow.record(event)
            move_statement_items(uow, [(s.tenant_id, s.id) for s in done], CLOSE_TRIGGER, now)
            uow.commit()
            return done

    while done := retrying(batch):
        closed += len(done)
        mismatched.extend(s.id for s in done if s.recount_minor != s.total_minor)
    return CloseReport(closed, tuple(mismatched))


def move_items(uow: UnitOfWork, statements: list[Statement], trigger: str, now: datetime) -> None:
    """Move the items of these statements through `trigger`, with one event per tenant."""
    move_statement_items(uow, [(s.tenant_id, s.id) for s in statements], trigger, now)


def move_statement_items(
    uow: UnitOfWork, statements: list[tuple[str, str]], trigger: str, now: datetime
) -> None:
    """Move the items of these (tenant, statement id)s through `trigger`, one event per tenant."""
    dest = destination(BillingItemStatus, trigger)
    by_tenant: dict[str, list[str]] = {}
    for tenant_id, statement_id in statements:
        by_tenant.setdefault(tenant_id, []).append(statement_id)
    for tenant_id, ids in by_tenant.items():
        count = uow.items.move_by_statements(ids, trigger)
        if count:
            uow.record(
                BillingItemsMoved(
                    tenant_id=tenant_id,
                    at=now,
                    statement_ids=tuple(ids),
                    trigger=trigger,
                    dest=dest.value,
                    count=count,
                )
            )
