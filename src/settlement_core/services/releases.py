"""Release summaries, channel funding and the operations view of both (R-REL-1, R-REL-2).

Releasable payouts are grouped per tenant, channel and currency into release
summaries. Operations fund the channel (recorded once per bank reference);
a summary becomes funded, oldest first, when the channel's unallocated funds
cover its total, and the money is set aside for it in the ledger.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import datetime

from attrs import frozen

from settlement_core.errors import IdempotencyConflict
from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.ledger import postings
from settlement_core.lifecycle import ReleaseSummaryStatus
from settlement_core.model import Funding, FundingRecorded, Payout, ReleaseSummaryCreated
from settlement_core.model.release import ReleaseSummary
from settlement_core.money import Money, positive_minor
from settlement_core.ports import UnitOfWork
from settlement_core.services.context import Context, retrying

Lane = tuple[str, str, str]  # (tenant, channel, currency)


@frozen
class FundingReceipt:
    """The funding, whether it was a replay, and which summaries it funded."""

    funding: Funding
    replayed: bool
    funded: tuple[str, ...]


def prepare_release(ctx: Context, as_of: datetime) -> tuple[str, ...]:
    """Group payouts ready to go (created by `as_of`) into release summaries.

    One summary per tenant, channel and currency for each batch of payouts;
    idempotent because a payout in a summary is never picked again. Channels
    already holding enough funds fund the new summaries at once.
    """
    as_of = ctx.not_after_now(as_of, "as_of")
    created: list[str] = []
    # Each batch reads after the last payout of the one before: the payouts summarised
    # already are still "created" until released, and reading from the start again
    # went past all of them every batch (quadratic). A payout with a smaller id that
    # turns up meanwhile is picked by the next run.
    after: str | None = None
    while True:
        made, after = retrying(functools.partial(_summarise_batch, ctx, as_of, after))
        if after is None:
            break
        created.extend(s.id for s in made)
    return tuple(created)


def _summarise_batch(
    ctx: Context, as_of: datetime, after: str | None
) -> tuple[list[ReleaseSummary], str | None]:
    """Summarise one batch of releasable payouts after `after`; the batch's last id, if any."""
    with ctx.uow() as uow:
        ready = uow.payouts.releasable(as_of, after, ctx.batch_size)
        if not ready:
            return [], None
        groups: defaultdict[Lane, list[Payout]] = defaultdict(list)
        for payout in ready:
            groups[(payout.tenant_id, payout.channel, payout.currency)].append(payout)
        now = ctx.now()
        made = [_summary(ctx, uow, lane, payouts, now) for lane, payouts in groups.items()]
        # Funded in the same transaction: a crash cannot leave new summaries unfunded
        # beside funds that cover them (no later run would pick them up again).
        for lane in sorted(groups):
            fund_summaries(ctx, uow, *lane, now)
        uow.commit()
        return made, ready[-1].id


def _summary(
    ctx: Context, uow: UnitOfWork, lane: Lane, payouts: list[Payout], now: datetime
) -> ReleaseSummary:
    tenant_id, channel, currency = lane
    summary = ReleaseSummary(
        id=ctx.ids.new_id(),
        tenant_id=tenant_id,
        channel=channel,
        currency=currency,
        total_minor=sum(p.amount_minor for p in payouts),
        payout_ids=tuple(p.id for p in payouts),
        created_at=now,
    )
    for payout in payouts:
        payout.release_id = summary.id
    summary.events.append(
        ReleaseSummaryCreated(
            tenant_id=tenant_id,
            at=now,
            summary_id=summary.id,
            channel=channel,
            currency=currency,
            total_minor=summary.total_minor,
            payout_count=len(payouts),
        )
    )
    uow.releases.add(summary)
    return summary


def record_funding(
    ctx: Context, tenant_id: str, channel: str, amount: Money, reference: str
) -> FundingReceipt:
    """Record money operations sent to a channel; idempotent by (tenant, bank reference).

    A replay with the same channel and amount returns the first funding; a
    different one under the same reference is an IdempotencyConflict. Created
    summaries of that channel and currency are funded, oldest first, while the
    channel's unallocated funds cover them; the rest stay created.
    """
    external_id(tenant_id, "tenant_id")
    external_id(reference, "reference")
    ctx.channel(channel)
    minor, currency = positive_minor(amount, "funding amount")

    def _fund(uow: UnitOfWork) -> tuple[str, ...]:
        # The money and the summaries it funds commit together: a crash in between
        # would leave free funds that the operations report no longer asks anyone to use.
        funded = fund_summaries(ctx, uow, tenant_id, channel, currency, ctx.now())
        uow.commit()
        return funded

    def record() -> tuple[Funding, bool, tuple[str, ...]]:
        with ctx.uow() as uow:
            found = uow.fundings.find_by_reference(tenant_id, reference)
            if found is not None:
                if (found.channel, found.currency, found.amount_minor) != (
                    channel,
                    currency,
                    minor,
                ):
                    raise IdempotencyConflict(
                        f"funding reference {reference!r} was recorded for"
                        f" {found.amount_minor} {found.currency} to {found.channel!r}"
                    )
                return found, True, _fund(uow)
            now = ctx.now()
            funding = Funding(
                id=ctx.ids.new_id(),
                tenant_id=tenant_id,
                channel=channel,
                currency=currency,
                amount_minor=minor,
                reference=reference,
                recorded_at=now,
            )
            funding.events.append(
                FundingRecorded(
                    tenant_id=tenant_id,
                    at=now,
                    funding_id=funding.id,
                    channel=channel,
                    amount_minor=minor,
                    currency=currency,
                    reference=reference,
                )
            )
            uow.fundings.add(funding)
            uow.ledger.post(
                postings.channel_funded(
                    ctx.ids.new_id(), tenant_id, funding.id, channel, currency, minor, now
                )
            )
            return funding, False, _fund(uow)

    funding, replayed, funded = retrying(record)
    return FundingReceipt(funding, replayed, funded)


def fund_summaries(
    ctx: Context, uow: UnitOfWork, tenant_id: str, channel: str, currency: str, now: datetime
) -> tuple[str, ...]:
    """Fund created summaries, oldest first, while the channel's free funds cover them.

    Strictly in order: a large old summary is not overtaken by smaller new
    ones, so operations see one clear amount still to fund.
    """
    funds_account = ledger_accounts.channel_funds(tenant_id, channel)
    free = uow.ledger.balance(funds_account, currency)
    funded: list[str] = []
    for summary in uow.releases.find(tenant_id, ReleaseSummaryStatus.CREATED, channel, currency):
        if summary.total_minor > free:
            break
        summary.mark_funded(now)
        if summary.total_minor:
            uow.ledger.post(
                postings.reserve(
                    ctx.ids.new_id(),
                    tenant_id,
                    "release.funded",
                    summary.id,
                    channel,
                    currency,
                    summary.total_minor,
                    now,
                )
            )
        for payout in uow.payouts.get_many(tenant_id, summary.payout_ids):
            payout.funded = True
        free -= summary.total_minor
        funded.append(summary.id)
    return tuple(funded)
