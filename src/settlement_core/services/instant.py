"""Instant payouts (R-PAY-6): pay part of an available balance now, through the same port."""

from __future__ import annotations

import hashlib

from settlement_core.errors import IdempotencyConflict, InsufficientBalance, InvalidTransition
from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.ledger import postings
from settlement_core.lifecycle import PayoutStatus
from settlement_core.model import InstantPayout, Payout, PayoutCreated, PayoutKind, PayoutSource
from settlement_core.money import format_amount, from_minor, positive_minor
from settlement_core.ports import metrics
from settlement_core.services.context import Context, retrying
from settlement_core.services.dispatch import send


def _payout_key(cmd: InstantPayout) -> str:
    digest = hashlib.sha256(cmd.key.encode()).hexdigest()[:32]
    return f"instant:{cmd.account_id}:{digest}"


def instant_payout(ctx: Context, cmd: InstantPayout) -> Payout:
    """Create, fund and send an instant payout; a replay returns the first one.

    The amount must be covered by the account's available balance in that
    currency and by the channel's free funds; it is set aside at once, so it
    can neither be paid twice nor be paid again by the next scheduled payout.
    """
    external_id(cmd.tenant_id, "tenant_id")
    external_id(cmd.account_id, "account_id")
    external_id(cmd.key, "key")
    minor, currency = positive_minor(cmd.amount, "instant payout amount")

    def create() -> tuple[Payout, bool]:
        with ctx.uow() as uow:
            key = _payout_key(cmd)
            found = uow.payouts.find_by_key(cmd.tenant_id, key)
            if found is not None:
                if (found.account_id, found.amount_minor, found.currency) != (
                    cmd.account_id,
                    minor,
                    currency,
                ):
                    raise IdempotencyConflict(
                        f"instant payout key {cmd.key!r} was used for"
                        f" {found.amount_minor} {found.currency}"
                    )
                return found, False
            account = uow.accounts.get(cmd.tenant_id, cmd.account_id)
            channel = ctx.channel(account.payout_channel).name
            if account.is_held:
                raise InvalidTransition("Account", account.status.value, "instant_payout")
            available = uow.ledger.balance(ledger_accounts.available(account.id), currency)
            if available < minor:
                raise InsufficientBalance(
                    f"account {account.id} has {format_amount(from_minor(available, currency))}"
                    f" available; {format_amount(cmd.amount)} was asked"
                )
            funds = ledger_accounts.channel_funds(cmd.tenant_id, channel)
            free = uow.ledger.balance(funds, currency)
            if free < minor:
                raise InsufficientBalance(
                    f"channel {channel!r} has {format_amount(from_minor(free, currency))}"
                    f" of free funds; {format_amount(cmd.amount)} was asked"
                )
            now = ctx.now()
            payout_id = ctx.ids.new_id()
            created = postings.payout_created(
                ctx.ids.new_id(),
                cmd.tenant_id,
                account.id,
                payout_id,
                currency,
                minor,
                [(currency, minor, minor)],
                now,
            )
            uow.ledger.post(created)
            uow.ledger.post(
                postings.reserve(
                    ctx.ids.new_id(),
                    cmd.tenant_id,
                    "payout.reserved",
                    payout_id,
                    channel,
                    currency,
                    minor,
                    now,
                )
            )
            payout = Payout(
                id=payout_id,
                tenant_id=cmd.tenant_id,
                account_id=account.id,
                key=key,
                amount_minor=minor,
                currency=currency,
                sources=(PayoutSource(currency, minor, minor),),
                statement_ids=(),
                created_at=now,
                transaction_id=created.id,
                method_ref=account.payout_method_ref,
                status=PayoutStatus.CREATED,
                kind=PayoutKind.INSTANT,
                channel=channel,
                funded=True,
            )
            payout.events.append(
                PayoutCreated(
                    tenant_id=cmd.tenant_id,
                    at=now,
                    payout_id=payout.id,
                    account_id=account.id,
                    amount_minor=minor,
                    currency=currency,
                    statement_ids=(),
                    needs_approval=False,
                )
            )
            payout.submit(now)
            uow.payouts.add(payout)
            uow.commit()
            return payout, True

    payout, new = retrying(create)
    if new:
        ctx.metrics.count(metrics.PAYOUTS_CREATED, 1, {"kind": "instant"})
        send(ctx, [payout])
        with ctx.uow() as uow:
            return uow.payouts.get(cmd.tenant_id, payout.id)
    return payout
