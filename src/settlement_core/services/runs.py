"""Calculation runs (R-ING-8, seed 001): an approval gate per run, and revoking a run.

A run is the batch of items one calculation produced (one rebate type for one
month, say); its items carry its id (`RecordBillingItem.run_id`). A run that
needs finance's approval keeps its items out of payouts until approved. Revoking
a run reverses every one of its items with a reversing item (never an update of
a booked amount), in bounded batches, each its own transaction that also moves
the run's cursor: a crash loses at most one batch and a re-run resumes.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from settlement_core.errors import IdempotencyConflict, NotFound, RunPaidOut, ValidationError
from settlement_core.ids import external_id
from settlement_core.lifecycle import RunStatus
from settlement_core.model import BillingItem, ItemKind, OpenRun, RecordBillingItem, Run
from settlement_core.money import from_minor
from settlement_core.ports import UnitOfWork
from settlement_core.services.context import Context, retrying
from settlement_core.services.ingest import ItemReceipt, book_in, count_ingested

# Reversing items are keyed by the item they reverse, so a re-run books none twice.
REVERSAL_PREFIX = "revoke:"


@frozen
class RevocationReport:
    """What a revocation did: items reversed (in all), batches this call ran, their size."""

    run_id: str
    status: RunStatus
    reversed: int
    batches: int
    batch_size: int


def open_run(ctx: Context, cmd: OpenRun) -> Run:
    """Register a run before its items arrive; idempotent by (tenant, run id).

    A replay with the same `needs_approval` returns the run; a different one
    raises IdempotencyConflict.
    """
    external_id(cmd.tenant_id, "tenant_id")
    external_id(cmd.run_id, "run_id")
    if not isinstance(cmd.needs_approval, bool):
        raise ValidationError("needs_approval must be True or False")

    def attempt() -> Run:
        with ctx.uow() as uow:
            found = uow.runs.find(cmd.tenant_id, cmd.run_id)
            if found is not None:
                if found.needs_approval != cmd.needs_approval:
                    raise IdempotencyConflict(
                        f"run {cmd.run_id!r} was opened with needs_approval={found.needs_approval}"
                    )
                return found
            run = _new_run(ctx, cmd.tenant_id, cmd.run_id, cmd.needs_approval)
            uow.runs.add(run)
            uow.commit()
            return run

    return retrying(attempt)


def _new_run(ctx: Context, tenant_id: str, run_id: str, needs_approval: bool) -> Run:
    status = RunStatus.AWAITING_APPROVAL if needs_approval else RunStatus.APPROVED
    return Run(
        id=ctx.ids.new_id(),
        tenant_id=tenant_id,
        run_id=run_id,
        needs_approval=needs_approval,
        created_at=ctx.now(),
        status=status,
    )


def approve_run(ctx: Context, tenant_id: str, run_id: str, approved_by: str) -> Run:
    """Finance approves a run: its items may reach payouts (idempotent: a no-op once approved)."""
    external_id(approved_by, "approved_by")

    def attempt() -> Run:
        with ctx.uow() as uow:
            run = _get(uow, tenant_id, run_id)
            if run.status is RunStatus.APPROVED:
                return run
            run.approve(ctx.now(), approved_by)
            uow.commit()
            return run

    return retrying(attempt)


def get_run(ctx: Context, tenant_id: str, run_id: str) -> Run:
    """A run by the host's run id, or NotFound."""
    with ctx.uow() as uow:
        return _get(uow, tenant_id, run_id)


def _get(uow: UnitOfWork, tenant_id: str, run_id: str) -> Run:
    run = uow.runs.find(tenant_id, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} for tenant {tenant_id!r}")
    return run


def revoke_run(
    ctx: Context,
    tenant_id: str,
    run_id: str,
    revoked_by: str,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> RevocationReport:
    """Reverse every item of a run not paid out yet, `batch_size` items per transaction.

    Idempotent by (tenant, run id): each reversing item's key is its original's
    id, and the run keeps its cursor, so a re-run after a crash (or a call that
    stopped after `max_batches`) goes on where it stopped and a finished
    revocation reports itself. Refuses with RunPaidOut, before reversing
    anything, when any item of the run is already paid out. A run never opened
    is registered on its first revocation.
    """
    external_id(tenant_id, "tenant_id")
    external_id(run_id, "run_id")
    external_id(revoked_by, "revoked_by")
    size = batch_size or ctx.batch_size
    if size < 1:
        raise ValidationError("a revocation batch holds at least one item")
    run = retrying(lambda: _start(ctx, tenant_id, run_id, revoked_by))
    batches = 0
    while run.status is RunStatus.REVOKING and (max_batches is None or batches < max_batches):
        run, receipts = retrying(lambda: _reverse_batch(ctx, tenant_id, run_id, size))
        count_ingested(ctx, receipts)
        batches += 1
    return RevocationReport(run_id, run.status, run.reversed_count, batches, size)


def _start(ctx: Context, tenant_id: str, run_id: str, revoked_by: str) -> Run:
    with ctx.uow() as uow:
        run = uow.runs.find(tenant_id, run_id)
        if run is None:
            run = _new_run(ctx, tenant_id, run_id, needs_approval=False)
            uow.runs.add(run)
        if run.status in (RunStatus.REVOKING, RunStatus.REVOKED):
            return run
        paid = uow.runs.paid_out_items(tenant_id, run_id)
        if paid:
            raise RunPaidOut(
                f"run {run_id!r} has {paid} items already paid out; "
                "it can no longer be revoked as a whole"
            )
        run.start_revoking(ctx.now(), revoked_by)
        uow.commit()
        return run


def _reverse_batch(
    ctx: Context, tenant_id: str, run_id: str, size: int
) -> tuple[Run, list[ItemReceipt]]:
    with ctx.uow() as uow:
        run = _get(uow, tenant_id, run_id)
        if run.status is not RunStatus.REVOKING:
            return run, []
        now = ctx.now()
        items = uow.runs.items(tenant_id, run_id, run.revoke_cursor, size)
        if not items:
            run.finish_revoking(now)
            uow.commit()
            return run, []
        _refuse_paid(uow, run_id, [item for item, _ in items])
        hold: datetime | None = None
        receipts = []
        # One query for the batch's reversal keys instead of one per item.
        uow.items.find_by_keys(tenant_id, [f"{REVERSAL_PREFIX}{i.id}" for i, _ in items])
        for item, shop in items:
            if not item.amount_minor:
                continue
            receipt = book_in(ctx, uow, _reversal(item, shop))
            receipts.append(receipt)
            if receipt.statement_id != item.statement_id:
                payable = uow.statements.get(tenant_id, receipt.statement_id).payable_at
                hold = payable if hold is None else max(hold, payable)
        run.reversed_batch(now, items[-1][0].id, len(items), size, hold)
        uow.commit()
        return run, receipts


def _refuse_paid(uow: UnitOfWork, run_id: str, items: list[BillingItem]) -> None:
    # The run gates payouts while revoking, so this only catches a payout made in a race.
    paid = uow.runs.paid_out(sorted({i.statement_id for i in items}))
    if paid:
        raise RunPaidOut(
            f"run {run_id!r}: statements {sorted(paid)} were paid out during its revocation"
        )


def _reversal(item: BillingItem, shop_id: str) -> RecordBillingItem:
    return RecordBillingItem(
        tenant_id=item.tenant_id,
        shop_id=shop_id,
        key=f"{REVERSAL_PREFIX}{item.id}",
        order_id=item.order_id,
        kind=ItemKind.ADJUSTMENT,
        amount=from_minor(-item.amount_minor, item.currency),
        # Dated as the original, so it lands on the same statement while that is open.
        occurred_at=item.occurred_at,
    )
