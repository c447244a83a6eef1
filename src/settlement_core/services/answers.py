"""Applying what a channel says about a payout: on submit, on a poll, in a callback.

An answer is about one idempotency key, that is one attempt of one payout. An
answer about an earlier attempt, or one that the payout's state has moved
past (a duplicate, or one that arrived out of order), changes nothing but is
kept as a channel event.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime

from attrs import frozen

from settlement_core.errors import CallbackRejected, NotFound, ReplayedCallback
from settlement_core.lifecycle import AWAITING_ANSWER, PayoutStatus
from settlement_core.model import AnswerSource, ChannelEvent, Payout
from settlement_core.ports import ChannelResult, Outcome, UnitOfWork
from settlement_core.services.context import Context, retrying
from settlement_core.services.payout_outcomes import count_outcome, fail, mark_returned, settle

# The failure code recorded when a channel says a payout never reached it.
NOT_RECEIVED = "not_received"


@frozen
class Answer:
    """A channel's answer about one payout, waiting to be applied."""

    tenant_id: str
    payout_id: str
    result: ChannelResult
    nonce: str | None = None


@frozen
class CallbackReceipt:
    """What a verified callback did."""

    payout_id: str
    outcome: Outcome
    applied: bool


def payout_id_of(idempotency_key: str) -> str:
    """The payout an idempotency key belongs to (keys are `<payout id>.<attempt>`)."""
    return idempotency_key.rsplit(".", 1)[0]


def apply_answer(
    ctx: Context, uow: UnitOfWork, payout: Payout, result: ChannelResult, now: datetime
) -> bool:
    """Move the payout as the answer says, if it still can; True when something changed."""
    if result.idempotency_key != payout.channel_key:
        return False
    status, outcome = payout.status, result.outcome
    if outcome is Outcome.ACCEPTED and status is PayoutStatus.UNKNOWN:
        payout.confirm(now)
    elif outcome is Outcome.PAID and status in AWAITING_ANSWER:
        settle(ctx, uow, payout, now)
    elif outcome is Outcome.FAILED and status in AWAITING_ANSWER:
        fail(ctx, uow, payout, now, result.retryable, result.code)
    elif outcome is Outcome.RETURNED and (status in AWAITING_ANSWER or status is PayoutStatus.PAID):
        mark_returned(ctx, uow, payout, now, result.code)
    elif outcome is Outcome.UNKNOWN and status is PayoutStatus.ONGOING:
        payout.lose_track(now)
    elif (
        outcome is Outcome.NOT_FOUND and status in AWAITING_ANSWER and _long_gone(ctx, payout, now)
    ):
        fail(ctx, uow, payout, now, True, NOT_RECEIVED)
    else:
        return False
    return True


def _long_gone(ctx: Context, payout: Payout, now: datetime) -> bool:
    # A submission may still be on its way; only an old one is believed lost.
    sent = payout.submitted_at
    return sent is not None and sent + ctx.channel_policy.not_found_after <= now


def apply_answers(
    ctx: Context, answers: Sequence[Answer], source: AnswerSource, keep_unapplied: bool = True
) -> int:
    """Apply answers in batches, each in one unit of work; returns how many changed a payout."""
    changed = 0
    for at in range(0, len(answers), ctx.batch_size):
        chunk = answers[at : at + ctx.batch_size]
        changed += retrying(functools.partial(_apply_chunk, ctx, chunk, source, keep_unapplied))
    return changed


def _apply_chunk(
    ctx: Context, chunk: Sequence[Answer], source: AnswerSource, keep_unapplied: bool
) -> int:
    moved: list[tuple[Payout, PayoutStatus]] = []
    by_tenant: dict[str, list[str]] = {}
    for answer in chunk:
        by_tenant.setdefault(answer.tenant_id, []).append(answer.payout_id)
    with ctx.uow() as uow:
        # The chunk's payouts in one read per tenant; `get` below finds them read.
        for tenant_id, payout_ids in by_tenant.items():
            uow.payouts.get_many(tenant_id, payout_ids)
        now = ctx.now()
        for answer in chunk:
            payout = uow.payouts.get(answer.tenant_id, answer.payout_id)
            before = payout.status
            applied = apply_answer(ctx, uow, payout, answer.result, now)
            if applied:
                moved.append((payout, before))
            if applied or keep_unapplied:
                uow.channel_events.add(_event(ctx, payout, answer, source, applied, now))
        uow.commit()
    for payout, before in moved:
        count_outcome(ctx, payout, before)
    return len(moved)


def _event(
    ctx: Context,
    payout: Payout,
    answer: Answer,
    source: AnswerSource,
    applied: bool,
    now: datetime,
) -> ChannelEvent:
    result = answer.result
    return ChannelEvent(
        id=ctx.ids.new_id(),
        tenant_id=payout.tenant_id,
        channel=payout.channel,
        payout_id=payout.id,
        idempotency_key=result.idempotency_key,
        outcome=result.outcome.value,
        source=source,
        received_at=now,
        applied=applied,
        code=result.code,
        message=result.message[:500],
        nonce=answer.nonce,
    )


def handle_callback(
    ctx: Context, channel_name: str, body: bytes, headers: Mapping[str, str]
) -> CallbackReceipt:
    """Verify a channel's callback and apply it once (R-SEC-1).

    The channel adapter checks the signature (constant time) and the time
    window; here the nonce is checked against every callback accepted before,
    inside the transaction that applies it, so a replay is refused even when
    two copies arrive at once. Raises BadSignature, StaleCallback,
    ReplayedCallback or CallbackRejected; nothing is applied then.
    """
    channel = ctx.channel(channel_name)
    notice = channel.parse_callback(body, headers, ctx.now())
    payout_id = payout_id_of(notice.result.idempotency_key)

    def run() -> CallbackReceipt:
        with ctx.uow() as uow:
            if uow.channel_events.nonce_seen(channel.name, notice.nonce):
                raise ReplayedCallback(f"callback nonce {notice.nonce!r} was already accepted")
            payout = uow.payouts.find(payout_id)
            if payout is None:
                raise NotFound(f"callback names payout {payout_id!r}, which does not exist")
            if payout.channel != channel.name:
                raise CallbackRejected(
                    f"payout {payout_id} goes through {payout.channel!r}, not {channel.name!r}"
                )
            now = ctx.now()
            answer = Answer(payout.tenant_id, payout.id, notice.result, notice.nonce)
            before = payout.status
            applied = apply_answer(ctx, uow, payout, notice.result, now)
            uow.channel_events.add(_event(ctx, payout, answer, AnswerSource.CALLBACK, applied, now))
            uow.commit()
            if applied:
                count_outcome(ctx, payout, before)
            return CallbackReceipt(payout.id, notice.result.outcome, applied)

    return retrying(run)
