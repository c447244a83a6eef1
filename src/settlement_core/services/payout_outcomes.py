"""What happens to a payout after it is created: approval, submission, and its outcome.

Each outcome is applied exactly once, whoever reports it (a host, a channel
callback, a poll, an operator): the payout's state machine refuses a second
move, and each posting is unique by (kind, payout id), so money moves once.
"""

from __future__ import annotations

from datetime import datetime

from settlement_core.errors import InvalidTransition
from settlement_core.ids import external_id
from settlement_core.ledger import postings
from settlement_core.lifecycle import AWAITING_ANSWER, PayoutStatus, StatementStatus
from settlement_core.model import AnswerSource, ApprovePayout, ChannelEvent, Payout, Statement
from settlement_core.ports import Outcome, UnitOfWork, metrics
from settlement_core.services.context import Context
from settlement_core.services.statements import move_items


def approve_payout(ctx: Context, cmd: ApprovePayout) -> Payout:
    """Approve a payout waiting for an operator (R-PAY-3); idempotent by payout id."""
    external_id(cmd.approved_by, "approved_by")
    with ctx.uow() as uow:
        payout = uow.payouts.get(cmd.tenant_id, cmd.payout_id)
        if payout.approved_by is not None and payout.status is not PayoutStatus.PENDING_APPROVAL:
            return payout
        payout.approve(ctx.now(), cmd.approved_by)
        uow.commit()
        return payout


def mark_payout_submitted(ctx: Context, tenant_id: str, payout_id: str) -> Payout:
    """The host handed the payout to its own channel; idempotent while it is ongoing."""
    with ctx.uow() as uow:
        payout = uow.payouts.get(tenant_id, payout_id)
        if payout.status is PayoutStatus.ONGOING:
            return payout
        if payout.status is PayoutStatus.FAILED:
            payout.retry(ctx.now())
        else:
            payout.submit(ctx.now())
        uow.commit()
        return payout


def record_payout_paid(ctx: Context, tenant_id: str, payout_id: str) -> Payout:
    """The channel paid: money leaves the platform, items become paid. Idempotent."""
    with ctx.uow() as uow:
        payout = uow.payouts.get(tenant_id, payout_id)
        if payout.status in (PayoutStatus.PAID, PayoutStatus.RETURNED):
            return payout
        before = payout.status
        settle(ctx, uow, payout, ctx.now())
        _reported(ctx, uow, payout, Outcome.PAID, None)
        uow.commit()
        count_outcome(ctx, payout, before)
        return payout


def record_payout_failed(
    ctx: Context, tenant_id: str, payout_id: str, retryable: bool, code: str | None = None
) -> Payout:
    """The channel failed the payout; a final failure returns the money once (R-PAY-7).

    Idempotent: repeating a failure report changes nothing. A retryable failure
    keeps the money in flight for the retry, unless the payout used up its
    attempts; a permanent one reverses the payout's creation, putting every
    source amount back on the balance.
    """
    with ctx.uow() as uow:
        payout = uow.payouts.get(tenant_id, payout_id)
        if payout.status is PayoutStatus.FAILED_NO_RETRY or (
            retryable and payout.status is PayoutStatus.FAILED
        ):
            return payout
        before = payout.status
        fail(ctx, uow, payout, ctx.now(), retryable, code)
        _reported(ctx, uow, payout, Outcome.FAILED, code)
        uow.commit()
        count_outcome(ctx, payout, before)
        return payout


def record_payout_returned(
    ctx: Context, tenant_id: str, payout_id: str, code: str | None = None
) -> Payout:
    """The receiving bank sent a paid payout back: its money returns to the balance once."""
    with ctx.uow() as uow:
        payout = uow.payouts.get(tenant_id, payout_id)
        if payout.status is PayoutStatus.RETURNED:
            return payout
        before = payout.status
        mark_returned(ctx, uow, payout, ctx.now(), code)
        _reported(ctx, uow, payout, Outcome.RETURNED, code)
        uow.commit()
        count_outcome(ctx, payout, before)
        return payout


def cancel_payout(ctx: Context, tenant_id: str, payout_id: str, cancelled_by: str) -> Payout:
    """An operator withdraws a payout that was not released; idempotent by payout id."""
    external_id(cancelled_by, "cancelled_by")
    with ctx.uow() as uow:
        payout = uow.payouts.get(tenant_id, payout_id)
        if payout.status is PayoutStatus.CANCELLED:
            return payout
        now = ctx.now()
        payout.cancel(now)
        if payout.release_id is not None:
            summary = uow.releases.get(tenant_id, payout.release_id)
            summary.withdraw(payout.id, payout.amount_minor, now)
        give_back(ctx, uow, payout, now, fail_items=False)
        uow.commit()
        return payout


def count_outcome(ctx: Context, payout: Payout, before: PayoutStatus) -> None:
    """Count what a committed move did to a payout (paid, failed, returned)."""
    channel = {"channel": payout.channel}
    status = payout.status
    if status is PayoutStatus.PAID or (
        status is PayoutStatus.RETURNED and before is not PayoutStatus.PAID
    ):
        ctx.metrics.count(metrics.PAYOUTS_PAID, 1, channel)
    if status is PayoutStatus.RETURNED:
        ctx.metrics.count(metrics.PAYOUTS_RETURNED, 1, channel)
    elif status in (PayoutStatus.FAILED, PayoutStatus.FAILED_NO_RETRY):
        final = "true" if status is PayoutStatus.FAILED_NO_RETRY else "false"
        ctx.metrics.count(metrics.PAYOUTS_FAILED, 1, {**channel, "final": final})


def _reported(
    ctx: Context,
    uow: UnitOfWork,
    payout: Payout,
    outcome: Outcome,
    code: str | None,
) -> None:
    # What the host or an operator reported is kept beside what channels said, for audit.
    uow.channel_events.add(
        ChannelEvent(
            id=ctx.ids.new_id(),
            tenant_id=payout.tenant_id,
            channel=payout.channel,
            payout_id=payout.id,
            idempotency_key=payout.channel_key,
            outcome=outcome.value,
            source=AnswerSource.OPERATOR,
            received_at=ctx.now(),
            applied=True,
            code=code,
        )
    )


def settle(ctx: Context, uow: UnitOfWork, payout: Payout, now: datetime) -> None:
    """Move a payout to paid, post it, and mark its items paid."""
    payout.settle(now)
    uow.ledger.post(
        postings.payout_paid(
            ctx.ids.new_id(),
            payout.tenant_id,
            payout.id,
            payout.channel,
            payout.currency,
            payout.amount_minor,
            payout.funded,
            now,
        )
    )
    move_items(uow, _statements(uow, payout), "pay", now)


def fail(
    ctx: Context,
    uow: UnitOfWork,
    payout: Payout,
    now: datetime,
    retryable: bool,
    code: str | None,
) -> None:
    """Fail a payout: to be retried later, or for good when it may not be tried again."""
    policy = ctx.channel_policy
    if retryable and policy.may_retry(payout.attempts):
        payout.fail(now, code, policy.next_attempt(payout.attempts, now))
        return
    payout.give_up(now, code)
    give_back(ctx, uow, payout, now, fail_items=True)


def mark_returned(
    ctx: Context, uow: UnitOfWork, payout: Payout, now: datetime, code: str | None
) -> None:
    """Undo a paid payout: its payment, then its creation."""
    if payout.status in AWAITING_ANSWER:
        # The return overtook the payment's own notice; both happened.
        settle(ctx, uow, payout, now)
    payout.mark_returned(now, code)
    paid = uow.ledger.find("payout.paid", payout.id)
    if paid is None:
        raise InvalidTransition("Payout", payout.status.value, "return (never posted paid)")
    uow.ledger.post(paid.reversal(ctx.ids.new_id(), now, payout.id))
    give_back(ctx, uow, payout, now, fail_items=True)


def give_back(
    ctx: Context, uow: UnitOfWork, payout: Payout, now: datetime, *, fail_items: bool
) -> None:
    """Return a payout's money to the balance, exactly once, and reopen its statements.

    The creation is reversed (each source amount back on `available`), channel
    money set aside for it goes back to the channel's funds, and its statements
    are carried again so the account's next payout pays them.
    """
    created = uow.ledger.get(payout.transaction_id)
    uow.ledger.post(created.reversal(ctx.ids.new_id(), now, payout.id))
    if payout.funded:
        uow.ledger.post(
            postings.unreserve(
                ctx.ids.new_id(),
                payout.tenant_id,
                payout.id,
                payout.channel,
                payout.currency,
                payout.amount_minor,
                now,
            )
        )
    statements = _statements(uow, payout)
    for statement in statements:
        if statement.status is StatementStatus.PAID_OUT and statement.payout_id == payout.id:
            statement.return_to_balance(now)
    if fail_items:
        move_items(uow, statements, "fail", now)


def _statements(uow: UnitOfWork, payout: Payout) -> list[Statement]:
    return [uow.statements.get(payout.tenant_id, sid) for sid in payout.statement_ids]
