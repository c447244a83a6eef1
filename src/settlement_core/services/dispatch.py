"""Sending payouts to their channels: release, retries, polling (R-REL-3, R-REL-4, R-PAY-7).

A payout is first moved to `ongoing` and committed, then handed to the
channel, then the answer is applied in a new unit of work. Should the process
die in between, the payout is ongoing with no answer, and `poll_channels`
asks the channel about exactly that idempotency key: a payout is never sent
twice on a guess.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from settlement_core.lifecycle import PayoutStatus, ReleaseSummaryStatus
from settlement_core.model import AnswerSource, Payout, ReleaseSummary
from settlement_core.ports import ChannelResult, Outcome, PaymentChannel, PayoutInstruction
from settlement_core.services.answers import Answer, apply_answers
from settlement_core.services.context import Context, retrying


@frozen
class DispatchReport:
    """What a sending or polling job did."""

    sent: int
    changed: int


def instruction(payout: Payout) -> PayoutInstruction:
    """What the channel is asked to do for the payout's current attempt."""
    return PayoutInstruction(
        idempotency_key=payout.channel_key,
        tenant_id=payout.tenant_id,
        payout_id=payout.id,
        account_id=payout.account_id,
        method_ref=payout.method_ref,
        amount_minor=payout.amount_minor,
        currency=payout.currency,
    )


def _unknown(key: str, exc: Exception) -> ChannelResult:
    return ChannelResult(
        idempotency_key=key,
        outcome=Outcome.UNKNOWN,
        code=type(exc).__name__,
        message=str(exc),
    )


def _submit(channel: PaymentChannel, payout: Payout) -> ChannelResult:
    try:
        return channel.submit(instruction(payout))
    except Exception as exc:
        return _unknown(payout.channel_key, exc)


def _ask(channel: PaymentChannel, payout: Payout) -> ChannelResult:
    try:
        return channel.status(payout.channel_key)
    except Exception as exc:
        return _unknown(payout.channel_key, exc)


def send(ctx: Context, payouts: Sequence[Payout]) -> DispatchReport:
    """Hand committed, ongoing payouts to their channels and apply the answers."""
    answers = [Answer(p.tenant_id, p.id, _submit(ctx.channel(p.channel), p)) for p in payouts]
    return DispatchReport(len(answers), apply_answers(ctx, answers, AnswerSource.SUBMIT))


def release(ctx: Context, tenant_id: str, summary_id: str) -> ReleaseSummary:
    """Release a funded summary: every payout in it goes to the channel (ongoing).

    Idempotent by summary id: a released summary is returned as it is and
    nothing is sent again. A summary that is not funded is refused.
    """

    def mark() -> tuple[ReleaseSummary, list[Payout]]:
        with ctx.uow() as uow:
            summary = uow.releases.get(tenant_id, summary_id)
            ctx.channel(summary.channel)
            if summary.status is ReleaseSummaryStatus.RELEASED:
                return summary, []
            now = ctx.now()
            summary.mark_released(now)
            payouts = uow.payouts.get_many(tenant_id, summary.payout_ids)
            going = [p for p in payouts if p.status is PayoutStatus.CREATED]
            for payout in going:
                payout.submit(now)
            uow.commit()
            return summary, going

    summary, going = retrying(mark)
    send(ctx, going)
    return summary


def retry_failed_payouts(ctx: Context, as_of: datetime) -> DispatchReport:
    """Send again, under a new key, every failed payout whose backoff has passed (R-PAY-7)."""
    as_of = ctx.not_after_now(as_of, "as_of")
    sent = changed = 0
    while True:
        due = retrying(functools.partial(_claim_retries, ctx, as_of))
        if not due:
            return DispatchReport(sent, changed)
        report = send(ctx, due)
        sent += report.sent
        changed += report.changed


def _claim_retries(ctx: Context, as_of: datetime) -> list[Payout]:
    with ctx.uow() as uow:
        due = uow.payouts.due_for_retry(as_of, None, ctx.batch_size)
        now = ctx.now()
        for payout in due:
            payout.retry(now)
        uow.commit()
        return due


def ask(ctx: Context, payouts: Sequence[Payout]) -> DispatchReport:
    """Ask each payout's channel what became of its current attempt, and apply the answers."""
    answers = [Answer(p.tenant_id, p.id, _ask(ctx.channel(p.channel), p)) for p in payouts]
    changed = apply_answers(ctx, answers, AnswerSource.POLL, keep_unapplied=False)
    return DispatchReport(len(answers), changed)


def poll_channels(ctx: Context, as_of: datetime) -> DispatchReport:
    """Ask the channels about payouts with no final answer that were sent a while ago."""
    as_of = ctx.not_after_now(as_of, "as_of")
    cutoff = as_of - ctx.channel_policy.poll_after
    asked = changed = 0
    after: str | None = None
    while True:
        with ctx.uow() as uow:
            waiting = uow.payouts.awaiting_answer(cutoff, after, ctx.batch_size)
        if not waiting:
            return DispatchReport(asked, changed)
        report = ask(ctx, waiting)
        asked += report.sent
        changed += report.changed
        after = waiting[-1].id
