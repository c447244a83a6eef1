"""Reconciliation (R-REC-1, R-REC-3): find differences, record each once, work them.

`reconcile` checks what the library keeps against itself: statement totals
against a recount of their items, payouts against their sources and postings,
the journal (every transaction balanced, every cached balance equal to the sum
of its entries, every currency summing to zero), and states stuck too long.
`reconcile_channel` checks payouts against a channel's settlement report.

Each difference is a `Discrepancy` whose key is the finding itself (kind,
objects, amounts): running a check again records nothing new, and a difference
that changes is a new finding. A dry run returns the findings and records
nothing.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from attrs import frozen

from settlement_core.errors import UnbalancedTransaction, ValidationError
from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import (
    AWAITING_ANSWER,
    DiscrepancyStatus,
    ReleaseSummaryStatus,
    StatementStatus,
)
from settlement_core.model import (
    Discrepancy,
    DiscrepancyFound,
    DiscrepancyKind,
    Statement,
    finding_key,
)
from settlement_core.ports import (
    ItemFilter,
    PayoutFilter,
    StatementFilter,
    UnitOfWork,
    metrics,
    paged,
)
from settlement_core.services.context import Context, retrying
from settlement_core.services.dispatch import ask


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T")
Row = TypeVar("Row", bound=_Identified)
K = DiscrepancyKind
CHECKS = ("statements", "payouts", "ledger", "collections", "stuck")


@frozen(kw_only=True)
class Finding:
    """One difference: what kind, which objects, the amounts on each side."""

    kind: DiscrepancyKind
    subjects: tuple[str, ...]
    detail: str
    currency: str | None = None
    expected_minor: int | None = None
    actual_minor: int | None = None

    @property
    def key(self) -> str:
        """The finding's identity (see `finding_key`)."""
        return finding_key(
            self.kind, self.subjects, self.currency, self.expected_minor, self.actual_minor
        )


@frozen(kw_only=True)
class ReconciliationReport:
    """What was checked, what differed, and which discrepancies were recorded new."""

    tenant_id: str
    as_of: datetime
    dry_run: bool
    checked: dict[str, int]
    findings: tuple[Finding, ...]
    recorded: tuple[str, ...]

    @property
    def clean(self) -> bool:
        """Whether nothing differed."""
        return not self.findings


def reconcile(
    ctx: Context,
    tenant_id: str,
    as_of: datetime,
    *,
    checks: Sequence[str] = CHECKS,
    stuck_after: timedelta = timedelta(days=1),
    dry_run: bool = False,
) -> ReconciliationReport:
    """Run the checks over one tenant and record what differs (unless `dry_run`)."""
    external_id(tenant_id, "tenant_id")
    as_of = ctx.not_after_now(as_of, "as_of")
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValidationError(f"unknown checks {sorted(unknown)}; choose from {list(CHECKS)}")
    if stuck_after <= timedelta(0):
        raise ValidationError("stuck_after must be a positive duration")
    runners = {
        "statements": functools.partial(_statements, ctx, tenant_id),
        "payouts": functools.partial(_payouts, ctx, tenant_id),
        "ledger": functools.partial(_ledger, ctx, tenant_id),
        "collections": functools.partial(_collections, ctx, tenant_id),
        "stuck": functools.partial(_stuck, ctx, tenant_id, as_of - stuck_after),
    }
    checked: dict[str, int] = {}
    findings: list[Finding] = []
    for name in CHECKS:
        if name in checks:
            count, found = runners[name]()
            checked[name] = count
            findings.extend(found)
    recorded = () if dry_run else record(ctx, tenant_id, findings)
    return ReconciliationReport(
        tenant_id=tenant_id,
        as_of=as_of,
        dry_run=dry_run,
        checked=checked,
        findings=tuple(findings),
        recorded=recorded,
    )


RECENT = "reconcile.recent"  # the checkpoint of the near-real-time check


def reconcile_recent(
    ctx: Context,
    tenant_id: str,
    as_of: datetime,
    *,
    stuck_after: timedelta = timedelta(hours=1),
    dry_run: bool = False,
) -> ReconciliationReport:
    """The cheap, frequent check (R-REC-2): only what changed since the last run.

    Recounts the statements that received items, and checks the payouts created,
    since the cursor kept in storage; then looks for stuck states. The cursor
    moves to `as_of` with the findings recorded (not on a dry run), so two
    workers running it at once check a window once: the loser retries.
    """
    external_id(tenant_id, "tenant_id")
    as_of = ctx.not_after_now(as_of, "as_of")
    with ctx.uow() as uow:
        cursor = uow.checkpoints.get(tenant_id, RECENT)
    since = None if cursor is None else datetime.fromisoformat(cursor)
    checked: dict[str, int] = {}
    findings: list[Finding] = []
    for name, (count, found) in (
        ("statements", _recent_statements(ctx, tenant_id, since, as_of)),
        ("payouts", _payouts(ctx, tenant_id, since)),
        ("stuck", _stuck(ctx, tenant_id, as_of - stuck_after)),
    ):
        checked[name] = count
        findings.extend(found)
    recorded: tuple[str, ...] = ()
    if not dry_run:
        recorded = record(ctx, tenant_id, findings)

        def move() -> None:
            with ctx.uow() as uow:
                now_at = uow.checkpoints.get(tenant_id, RECENT)
                # Another run may have moved it further; a cursor never goes back.
                if now_at is not None and datetime.fromisoformat(now_at) >= as_of:
                    return
                uow.checkpoints.put(tenant_id, RECENT, as_of.isoformat(), now_at)
                uow.commit()

        retrying(move)
    return ReconciliationReport(
        tenant_id=tenant_id,
        as_of=as_of,
        dry_run=dry_run,
        checked=checked,
        findings=tuple(findings),
        recorded=recorded,
    )


def record(ctx: Context, tenant_id: str, findings: Sequence[Finding]) -> tuple[str, ...]:
    """Record findings not recorded before, in batches; the ids of the new discrepancies."""
    new: list[str] = []
    for at in range(0, len(findings), ctx.batch_size):
        chunk = findings[at : at + ctx.batch_size]
        new.extend(retrying(functools.partial(_record_chunk, ctx, tenant_id, chunk)))
    return tuple(new)


def _record_chunk(ctx: Context, tenant_id: str, chunk: Sequence[Finding]) -> list[str]:
    new: list[str] = []
    kinds: dict[str, int] = {}
    with ctx.uow() as uow:
        now = ctx.now()
        keys: set[str] = set()
        for finding in chunk:
            key = finding.key
            if key in keys or uow.discrepancies.find_by_key(tenant_id, key) is not None:
                continue
            keys.add(key)
            discrepancy = Discrepancy(
                id=ctx.ids.new_id(),
                tenant_id=tenant_id,
                kind=finding.kind,
                key=key,
                subjects=finding.subjects,
                found_at=now,
                detail=finding.detail[:1000],
                currency=finding.currency,
                expected_minor=finding.expected_minor,
                actual_minor=finding.actual_minor,
            )
            discrepancy.events.append(
                DiscrepancyFound(
                    tenant_id=tenant_id,
                    at=now,
                    discrepancy_id=discrepancy.id,
                    kind=finding.kind.value,
                    subjects=finding.subjects,
                    currency=finding.currency,
                    expected_minor=finding.expected_minor,
                    actual_minor=finding.actual_minor,
                )
            )
            uow.discrepancies.add(discrepancy)
            new.append(discrepancy.id)
            kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
        uow.commit()
    for kind, count in sorted(kinds.items()):
        ctx.metrics.count(metrics.DISCREPANCIES_FOUND, count, {"kind": kind})
    return new


def resolve_discrepancy(
    ctx: Context, tenant_id: str, discrepancy_id: str, resolved_by: str, reason: str
) -> Discrepancy:
    """Close a discrepancy with who and why; idempotent for the same reason (R-REC-3)."""
    external_id(resolved_by, "resolved_by")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        raise ValidationError("a resolution needs a reason of 1..1000 characters")

    def run() -> Discrepancy:
        with ctx.uow() as uow:
            discrepancy = uow.discrepancies.get(tenant_id, discrepancy_id)
            if (
                discrepancy.status is DiscrepancyStatus.RESOLVED
                and discrepancy.resolution == reason
            ):
                return discrepancy
            discrepancy.resolve(ctx.now(), resolved_by, reason)
            uow.commit()
            return discrepancy

    return retrying(run)


def _scan(fetch: Callable[[str | None], list[Row]]) -> Iterator[Row]:
    after: str | None = None
    while True:
        batch = fetch(after)
        yield from batch
        if not batch:
            return
        after = batch[-1].id


def _statements(ctx: Context, tenant_id: str) -> tuple[int, list[Finding]]:
    count = 0
    found: list[Finding] = []
    cursor: str | None = None
    while True:
        with ctx.uow() as uow:
            page = uow.statements.query(
                StatementFilter(tenant_id=tenant_id), cursor, ctx.batch_size
            )
            found.extend(_recounted(uow, page.items))
        count += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return count, found


def _recent_statements(
    ctx: Context, tenant_id: str, since: datetime | None, until: datetime
) -> tuple[int, list[Finding]]:
    # The statements that items recorded since the last run went into.
    touched: set[str] = set()
    with ctx.uow() as uow:
        where = ItemFilter(tenant_id=tenant_id, recorded_from=since, recorded_to=until)
        for item in paged(lambda c: uow.items.query(where, c, ctx.batch_size)):
            touched.add(item.statement_id)
    ids = sorted(touched)
    found: list[Finding] = []
    for at in range(0, len(ids), ctx.batch_size):
        with ctx.uow() as uow:
            chunk = [uow.statements.get(tenant_id, sid) for sid in ids[at : at + ctx.batch_size]]
            found.extend(_recounted(uow, chunk))
    return len(ids), found


def _recounted(uow: UnitOfWork, statements: Sequence[Statement]) -> list[Finding]:
    recount = uow.items.recount([s.id for s in statements])
    return [
        Finding(
            kind=K.STATEMENT_TOTAL,
            subjects=(statement.id,),
            detail=f"statement {statement.id} says {statement.total_minor},"
            f" its items sum to {recount.get(statement.id, 0)}",
            currency=statement.currency,
            expected_minor=recount.get(statement.id, 0),
            actual_minor=statement.total_minor,
        )
        for statement in statements
        if recount.get(statement.id, 0) != statement.total_minor
    ]


def _payouts(
    ctx: Context, tenant_id: str, since: datetime | None = None
) -> tuple[int, list[Finding]]:
    found: list[Finding] = []
    count = 0
    where = PayoutFilter(tenant_id=tenant_id, created_from=since)
    with ctx.uow() as uow:
        for payout in paged(lambda c: uow.payouts.query(where, c, ctx.batch_size)):
            count += 1
            drawn = sum(s.converted_minor for s in payout.sources)
            posted = _in_flight(uow, payout.id)
            for what, other in (("its sources", drawn), ("its posting", posted)):
                if other is not None and other != payout.amount_minor:
                    found.append(
                        Finding(
                            kind=K.PAYOUT_AMOUNT,
                            subjects=(payout.id, what),
                            detail=f"payout {payout.id} is {payout.amount_minor},"
                            f" {what} say {other}",
                            currency=payout.currency,
                            expected_minor=other,
                            actual_minor=payout.amount_minor,
                        )
                    )
    return count, found


def _in_flight(uow: UnitOfWork, payout_id: str) -> int | None:
    try:
        created = uow.ledger.find("payout.created", payout_id)
    except UnbalancedTransaction:
        return None  # the ledger check reports that transaction
    if created is None:
        return 0
    return sum(
        e.amount_minor for e in created.entries if e.account == ledger_accounts.PAYOUTS_IN_FLIGHT
    )


def _ledger(ctx: Context, tenant_id: str) -> tuple[int, list[Finding]]:
    with ctx.uow() as uow:
        audit = uow.ledger.audit(tenant_id)
    found = [
        Finding(
            kind=K.UNBALANCED_TRANSACTION,
            subjects=(transaction_id,),
            detail=f"transaction {transaction_id} is off by {off} in {currency}",
            currency=currency,
            expected_minor=0,
            actual_minor=off,
        )
        for transaction_id, currency, off in audit.unbalanced
    ]
    totals: defaultdict[str, int] = defaultdict(int)
    for (account, currency), total in sorted(audit.entry_sums.items()):
        totals[currency] += total
        cached = audit.cached.get((account, currency), 0)
        # Platform accounts gather every tenant's entries: only the whole journal explains them.
        if ledger_accounts.owned_by(account, tenant_id) and cached != total:
            found.append(
                Finding(
                    kind=K.BALANCE_CACHE,
                    subjects=(account,),
                    detail=f"{account} holds {cached} {currency}; its entries sum to {total}",
                    currency=currency,
                    expected_minor=total,
                    actual_minor=cached,
                )
            )
    for currency, total in sorted(totals.items()):
        if total:
            found.append(
                Finding(
                    kind=K.LEDGER_TOTAL,
                    subjects=(f"journal:{tenant_id}",),
                    detail=f"the journal sums to {total} {currency}, not zero",
                    currency=currency,
                    expected_minor=0,
                    actual_minor=total,
                )
            )
    return len(audit.entry_sums), found


def _collections(ctx: Context, tenant_id: str) -> tuple[int, list[Finding]]:
    """Each party's receivable ledger balance against what its collections still bill."""
    owed: defaultdict[tuple[str, str], int] = defaultdict(int)
    count = 0
    with ctx.uow() as uow:
        for collection in paged(
            lambda c: uow.collections.query(tenant_id, None, None, c, ctx.batch_size)
        ):
            count += 1
            receivable = ledger_accounts.receivable(collection.account_id)
            owed[(receivable, collection.currency)] += collection.outstanding_minor
        audit = uow.ledger.audit(tenant_id)
    # Entry sums, not cached balances: the ledger check already compares the two.
    held = {
        key: total
        for key, total in audit.entry_sums.items()
        if key[0].startswith("party:") and key[0].endswith(":receivable")
    }
    found = []
    for account, currency in sorted(set(owed) | set(held)):
        balance = held.get((account, currency), 0)
        billed = owed.get((account, currency), 0)
        if balance != -billed:
            found.append(
                Finding(
                    kind=K.COLLECTION_BALANCE,
                    subjects=(account,),
                    detail=f"{account} holds {balance} {currency};"
                    f" its collections still bill {billed}",
                    currency=currency,
                    expected_minor=-billed,
                    actual_minor=balance,
                )
            )
    return count, found


def _stuck(ctx: Context, tenant_id: str, cutoff: datetime) -> tuple[int, list[Finding]]:
    with ctx.uow() as uow:
        waiting = [
            p
            for p in _scan(lambda after: uow.payouts.awaiting_answer(cutoff, after, ctx.batch_size))
            if p.tenant_id == tenant_id
        ]
        funded = [
            s
            for s in uow.releases.find(tenant_id, ReleaseSummaryStatus.FUNDED)
            if s.created_at <= cutoff
        ]
    # Ask the channel first: a stuck payout it can answer for is settled, not reported.
    ask(ctx, waiting)
    found: list[Finding] = []
    with ctx.uow() as uow:
        for payout in uow.payouts.get_many(tenant_id, [p.id for p in waiting]):
            if payout.status in AWAITING_ANSWER:
                found.append(
                    Finding(
                        kind=K.STUCK_PAYOUT,
                        subjects=(payout.id, payout.channel_key),
                        detail=f"payout {payout.id} is {payout.status} since"
                        f" {payout.submitted_at}; {payout.channel} has no answer",
                        currency=payout.currency,
                        expected_minor=payout.amount_minor,
                    )
                )
        open_statements = list(
            paged(
                lambda c: uow.statements.query(
                    StatementFilter(tenant_id=tenant_id, status=StatementStatus.OPEN),
                    c,
                    ctx.batch_size,
                )
            )
        )
    found.extend(
        Finding(
            kind=K.STUCK_RELEASE,
            subjects=(s.id,),
            detail=f"release summary {s.id} was funded but not released",
            currency=s.currency,
            expected_minor=s.total_minor,
        )
        for s in funded
    )
    found.extend(
        Finding(
            kind=K.STUCK_STATEMENT,
            subjects=(s.id,),
            detail=f"statement {s.id} is still open; its period ended {s.period.end}",
            currency=s.currency,
            expected_minor=s.total_minor,
        )
        for s in open_statements
        if s.period.end <= cutoff
    )
    return len(waiting) + len(funded) + len(open_statements), found
