"""Payouts against a channel's settlement report (R-REC-1): matching and its differences.

Rows are matched to payouts by the idempotency key the channel saw. Three
strategies cover how channels report:

- `one_to_one`: one row per submission (the default);
- `one_to_many`: a submission the channel paid in several rows, under one key
  (the rows' amounts are summed);
- `many_to_one`: rows that settle several of our payouts at once under a key
  of their own (a batch transfer): a row no key explains is matched to our
  unmatched payouts of its currency submitted within `date_tolerance` of it,
  when their total is the row's amount (within `amount_tolerance_minor`).

A payout submitted within `date_tolerance` of the window's end may be in the
next report, and is not called missing yet.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from attrs import frozen

from settlement_core.errors import ValidationError
from settlement_core.ids import external_id
from settlement_core.lifecycle import AWAITING_ANSWER, PayoutStatus
from settlement_core.model import DiscrepancyKind, Payout
from settlement_core.ports import ChannelRecord, Outcome, PayoutFilter, UnitOfWork, paged
from settlement_core.services.answers import payout_id_of
from settlement_core.services.context import Context
from settlement_core.services.reconcile import Finding, ReconciliationReport, record

K = DiscrepancyKind
# Our payout states each final channel status may sit beside.
AGREES: dict[Outcome, frozenset[PayoutStatus]] = {
    Outcome.PAID: frozenset({PayoutStatus.PAID}),
    Outcome.RETURNED: frozenset({PayoutStatus.RETURNED}),
    Outcome.FAILED: frozenset({PayoutStatus.FAILED, PayoutStatus.FAILED_NO_RETRY}),
}


class Matching(enum.StrEnum):
    """How a channel's rows relate to our submissions."""

    ONE_TO_ONE = "one_to_one"
    ONE_TO_MANY = "one_to_many"
    MANY_TO_ONE = "many_to_one"


@frozen
class _Row:
    """A report row, or several rows of one key merged."""

    idempotency_key: str
    amount_minor: int
    currency: str
    status: Outcome
    submitted_at: datetime | None


def reconcile_channel(
    ctx: Context,
    tenant_id: str,
    channel: str,
    records: Iterable[ChannelRecord],
    *,
    since: datetime,
    until: datetime,
    matching: Matching = Matching.ONE_TO_ONE,
    amount_tolerance_minor: int = 0,
    date_tolerance: timedelta = timedelta(0),
    dry_run: bool = False,
) -> ReconciliationReport:
    """Match payouts sent in [since, until) with a channel's report; record what differs.

    A row for no payout of ours is `missing_ours`; a payout whose current
    attempt has no row is `missing_at_channel`; amounts differing by more than
    the tolerance, other currencies and final statuses that disagree are
    recorded too. A row paying an attempt we replaced by a later one is a
    status mismatch: the channel may have paid twice.
    """
    external_id(tenant_id, "tenant_id")
    ctx.channel(channel)
    matching = Matching(matching)
    if type(amount_tolerance_minor) is not int or amount_tolerance_minor < 0:
        raise ValidationError("amount_tolerance_minor must be a non-negative int")
    if not isinstance(date_tolerance, timedelta) or date_tolerance < timedelta(0):
        raise ValidationError("date_tolerance must be a non-negative timedelta")
    rows = _rows(records, merge=matching is Matching.ONE_TO_MANY)
    findings: list[Finding] = []
    with ctx.uow() as uow:
        where = PayoutFilter(tenant_id=tenant_id, channel=channel)
        sent = [
            p
            for p in paged(lambda c: uow.payouts.query(where, c, ctx.batch_size))
            if p.submitted_at is not None and since <= p.submitted_at < until
        ]
        seen: set[str] = set()
        unexplained: list[_Row] = []
        for row in rows:
            payout = _payout_of(uow, tenant_id, channel, row)
            if payout is None:
                unexplained.append(row)
                continue
            seen.add(row.idempotency_key)
            findings.extend(_compare(channel, payout, row, amount_tolerance_minor))
        if matching is Matching.MANY_TO_ONE:
            unexplained = _batches(unexplained, sent, seen, amount_tolerance_minor, date_tolerance)
        findings.extend(_missing_ours(channel, row) for row in unexplained)
        late = until - date_tolerance
        findings.extend(
            _missing_at_channel(channel, p)
            for p in sent
            if p.channel_key not in seen and p.submitted_at is not None and p.submitted_at < late
        )
    recorded = () if dry_run else record(ctx, tenant_id, findings)
    return ReconciliationReport(
        tenant_id=tenant_id,
        as_of=ctx.now(),
        dry_run=dry_run,
        checked={"channel_rows": len(rows), "payouts_sent": len(sent)},
        findings=tuple(findings),
        recorded=recorded,
    )


def _rows(records: Iterable[ChannelRecord], *, merge: bool) -> list[_Row]:
    rows = [
        _Row(
            r.idempotency_key,
            r.amount_minor,
            r.currency,
            r.status,
            r.submitted_at,
        )
        for r in records
    ]
    if not merge:
        return rows
    grouped: defaultdict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        grouped[row.idempotency_key].append(row)
    merged = []
    for key, parts in grouped.items():
        statuses = {p.status for p in parts}
        currencies = {p.currency for p in parts}
        merged.append(
            _Row(
                key,
                sum(p.amount_minor for p in parts),
                parts[0].currency if len(currencies) == 1 else "???",
                parts[0].status if len(statuses) == 1 else Outcome.ACCEPTED,
                min((p.submitted_at for p in parts if p.submitted_at), default=None),
            )
        )
    return merged


def _payout_of(uow: UnitOfWork, tenant_id: str, channel: str, row: _Row) -> Payout | None:
    payout = uow.payouts.find(payout_id_of(row.idempotency_key))
    if payout is None or payout.tenant_id != tenant_id or payout.channel != channel:
        return None
    return payout


def _batches(
    rows: list[_Row],
    sent: Sequence[Payout],
    seen: set[str],
    tolerance: int,
    window: timedelta,
) -> list[_Row]:
    """Rows left unexplained after matching some to batches of our unmatched payouts."""
    left = []
    for row in rows:
        if row.submitted_at is None:
            left.append(row)
            continue
        at = row.submitted_at
        group = [
            p
            for p in sent
            if p.channel_key not in seen
            and p.currency == row.currency
            and p.submitted_at is not None
            and abs(p.submitted_at - at) <= window
        ]
        if group and abs(sum(p.amount_minor for p in group) - row.amount_minor) <= tolerance:
            seen.update(p.channel_key for p in group)
        else:
            left.append(row)
    return left


def _compare(channel: str, payout: Payout, row: _Row, tolerance: int) -> list[Finding]:
    subjects = (payout.id, row.idempotency_key)
    if row.idempotency_key != payout.channel_key:
        if row.status in (Outcome.PAID, Outcome.RETURNED):
            return [
                Finding(
                    kind=K.STATUS_MISMATCH,
                    subjects=subjects,
                    detail=f"{channel} paid attempt {row.idempotency_key}, which we replaced",
                    currency=row.currency,
                    actual_minor=row.amount_minor,
                )
            ]
        return []
    found: list[Finding] = []
    if row.currency != payout.currency:
        found.append(
            Finding(
                kind=K.CURRENCY_MISMATCH,
                subjects=subjects,
                detail=f"{channel} has {row.currency}, the payout is in {payout.currency}",
                currency=payout.currency,
            )
        )
    elif abs(row.amount_minor - payout.amount_minor) > tolerance:
        found.append(
            Finding(
                kind=K.AMOUNT_MISMATCH,
                subjects=subjects,
                detail=f"{channel} has {row.amount_minor}, the payout {payout.amount_minor}",
                currency=payout.currency,
                expected_minor=payout.amount_minor,
                actual_minor=row.amount_minor,
            )
        )
    agrees = AGREES.get(row.status)
    # A payout still waiting for its answer may lag the file; the poll job catches up.
    if agrees is not None and payout.status not in AWAITING_ANSWER and payout.status not in agrees:
        found.append(
            Finding(
                kind=K.STATUS_MISMATCH,
                subjects=(*subjects, f"ours:{payout.status}", f"theirs:{row.status}"),
                detail=f"{channel} says {row.status}, the payout is {payout.status}",
                currency=payout.currency,
                expected_minor=payout.amount_minor,
                actual_minor=row.amount_minor,
            )
        )
    return found


def _missing_ours(channel: str, row: _Row) -> Finding:
    return Finding(
        kind=K.MISSING_OURS,
        subjects=(row.idempotency_key,),
        detail=f"{channel} reports {row.idempotency_key}, which is no payout of ours",
        currency=row.currency,
        actual_minor=row.amount_minor,
    )


def _missing_at_channel(channel: str, payout: Payout) -> Finding:
    return Finding(
        kind=K.MISSING_AT_CHANNEL,
        subjects=(payout.id, payout.channel_key),
        detail=f"payout {payout.id} ({payout.status}) is not in {channel}'s report",
        currency=payout.currency,
        expected_minor=payout.amount_minor,
    )
