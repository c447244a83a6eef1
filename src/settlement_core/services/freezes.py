"""Freeze, confirm, cancel (R-LED-2): spending part of an available balance in two steps.

`freeze` moves the amount from the account's available balance to its frozen
balance at once, so it can be neither paid out nor frozen twice; `confirm`
spends it (to `platform:spent`, for the host to settle), `cancel` gives it
back. A freeze nobody confirms or cancels by its expiry is given back by
`expire_freezes`. Each is idempotent by (tenant, reference): the same request
again returns the freeze as it is; a confirm after a cancel (or the reverse) is
an InvalidTransition, and money moves exactly once either way.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from settlement_core.errors import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.ledger import postings
from settlement_core.lifecycle import FreezeStatus
from settlement_core.model import Freeze
from settlement_core.money import Money, format_amount, from_minor, positive_minor
from settlement_core.ports import UnitOfWork
from settlement_core.services.context import Context, retrying
from settlement_core.timestamps import require_aware

DEFAULT_HOLD = timedelta(hours=24)


def freeze(
    ctx: Context,
    tenant_id: str,
    account_id: str,
    amount: Money,
    reference: str,
    expires_at: datetime | None = None,
) -> Freeze:
    """Set `amount` of the available balance aside (try); idempotent by (tenant, reference)."""
    external_id(tenant_id, "tenant_id")
    external_id(account_id, "account_id")
    external_id(reference, "reference")
    minor, currency = positive_minor(amount, "freeze amount")
    now = ctx.now()
    until = now + DEFAULT_HOLD if expires_at is None else require_aware(expires_at, "expires_at")
    if until <= now:
        raise ValidationError("a freeze must expire in the future")

    def run() -> Freeze:
        with ctx.uow() as uow:
            found = uow.freezes.find_by_reference(tenant_id, reference)
            if found is not None:
                if (found.account_id, found.currency, found.amount_minor) != (
                    account_id,
                    currency,
                    minor,
                ):
                    raise IdempotencyConflict(
                        f"freeze {reference!r} holds {format_amount(found.amount)}"
                        f" of account {found.account_id}"
                    )
                return found
            account = uow.accounts.get(tenant_id, account_id)
            available = uow.ledger.balance(ledger_accounts.available(account.id), currency)
            if available < minor:
                raise InsufficientBalance(
                    f"account {account.id} has {format_amount(from_minor(available, currency))}"
                    f" available; {format_amount(amount)} cannot be frozen"
                )
            at = ctx.now()
            held = Freeze(
                id=ctx.ids.new_id(),
                tenant_id=tenant_id,
                account_id=account.id,
                reference=reference,
                currency=currency,
                amount_minor=minor,
                created_at=at,
                expires_at=until,
            )
            uow.ledger.post(
                postings.transfer(
                    ctx.ids.new_id(),
                    tenant_id,
                    "freeze.held",
                    held.id,
                    at,
                    ledger_accounts.available(account.id),
                    ledger_accounts.frozen(account.id),
                    currency,
                    minor,
                )
            )
            uow.freezes.add(held)
            uow.commit()
            return held

    return retrying(run)


def confirm_freeze(ctx: Context, tenant_id: str, reference: str) -> Freeze:
    """Spend a held freeze (confirm); a repeat returns it, a cancelled one is refused."""
    return retrying(functools.partial(_finish, ctx, tenant_id, reference, FreezeStatus.CONFIRMED))


def cancel_freeze(ctx: Context, tenant_id: str, reference: str) -> Freeze:
    """Give a held freeze back (cancel); a repeat returns it, a confirmed one is refused."""
    return retrying(functools.partial(_finish, ctx, tenant_id, reference, FreezeStatus.CANCELLED))


def expire_freezes(ctx: Context, as_of: datetime) -> int:
    """Give back every held freeze whose expiry has passed (a job); returns how many."""
    as_of = ctx.not_after_now(as_of, "as_of")
    total = 0
    while True:
        done = retrying(functools.partial(_expire_batch, ctx, as_of))
        if not done:
            return total
        total += done


def _expire_batch(ctx: Context, as_of: datetime) -> int:
    with ctx.uow() as uow:
        due = uow.freezes.expired(as_of, ctx.batch_size)
        for held in due:
            _apply(ctx, uow, held, FreezeStatus.EXPIRED)
        uow.commit()
        return len(due)


def _finish(ctx: Context, tenant_id: str, reference: str, outcome: FreezeStatus) -> Freeze:
    external_id(reference, "reference")
    with ctx.uow() as uow:
        held = uow.freezes.find_by_reference(tenant_id, reference)
        if held is None:
            raise NotFound(f"no freeze {reference!r} for tenant {tenant_id!r}")
        if held.status is outcome:
            return held
        if held.status is FreezeStatus.EXPIRED and outcome is FreezeStatus.CANCELLED:
            return held  # already given back
        _apply(ctx, uow, held, outcome)
        uow.commit()
        return held


def _apply(ctx: Context, uow: UnitOfWork, held: Freeze, outcome: FreezeStatus) -> None:
    now = ctx.now()
    frozen = ledger_accounts.frozen(held.account_id)
    if outcome is FreezeStatus.CONFIRMED:
        held.confirm(now)
        kind, dest = "freeze.confirmed", ledger_accounts.SPENT
    elif outcome is FreezeStatus.CANCELLED:
        held.cancel(now)
        kind, dest = "freeze.released", ledger_accounts.available(held.account_id)
    elif outcome is FreezeStatus.EXPIRED:
        held.expire(now)
        kind, dest = "freeze.released", ledger_accounts.available(held.account_id)
    else:
        raise InvalidTransition("Freeze", held.status.value, outcome.value)
    uow.ledger.post(
        postings.transfer(
            ctx.ids.new_id(),
            held.tenant_id,
            kind,
            held.id,
            now,
            frozen,
            dest,
            held.currency,
            held.amount_minor,
        )
    )
