"""Non-order charges with an approval step (R-FEE-5): deposits, penalties, platform fees.

One person proposes a charge (idempotent by tenant + reference); another
approves it, which books it as a billing item in the same transaction (a fee
item when it takes money from the party, an adjustment when it gives some), or
rejects it. From there the item is settled like any other: it nets on the
party's statement and payout.
"""

from __future__ import annotations

from settlement_core.errors import IdempotencyConflict, InvalidAmount, ValidationError
from settlement_core.ids import external_id
from settlement_core.lifecycle import ChargeStatus
from settlement_core.model import Charge, ChargeKind, ItemKind, ProposeCharge, RecordBillingItem
from settlement_core.money import bounded_minor, format_amount
from settlement_core.services.context import Context, retrying
from settlement_core.services.ingest import book_in


def propose_charge(ctx: Context, cmd: ProposeCharge) -> Charge:
    """Propose a charge; a replay returns it, other content under its reference is refused."""
    external_id(cmd.tenant_id, "tenant_id")
    external_id(cmd.account_id, "account_id")
    external_id(cmd.reference, "reference")
    external_id(cmd.proposed_by, "proposed_by")
    try:
        kind = ChargeKind(cmd.kind)
    except ValueError:
        known = ", ".join(k.value for k in ChargeKind)
        raise ValidationError(f"unknown charge kind {cmd.kind!r}; one of {known}") from None
    if not isinstance(cmd.reason, str) or not cmd.reason.strip() or len(cmd.reason) > 500:
        raise ValidationError("a charge needs a reason of 1..500 characters")
    minor = bounded_minor(cmd.amount, "charge amount")
    if minor == 0:
        raise InvalidAmount("a charge must not be zero")
    currency = cmd.amount.currency.code

    def run() -> Charge:
        with ctx.uow() as uow:
            found = uow.charges.find_by_reference(cmd.tenant_id, cmd.reference)
            if found is not None:
                same = (found.account_id, found.kind, found.amount_minor, found.currency)
                if same != (cmd.account_id, kind, minor, currency):
                    raise IdempotencyConflict(
                        f"charge {cmd.reference!r} is {found.kind} of {format_amount(found.amount)}"
                    )
                return found
            account = uow.accounts.get(cmd.tenant_id, cmd.account_id)
            charge = Charge(
                id=ctx.ids.new_id(),
                tenant_id=cmd.tenant_id,
                account_id=account.id,
                kind=kind,
                reference=cmd.reference,
                currency=currency,
                amount_minor=minor,
                reason=cmd.reason,
                proposed_by=cmd.proposed_by,
                proposed_at=ctx.now(),
            )
            uow.charges.add(charge)
            uow.commit()
            return charge

    return retrying(run)


def approve_charge(ctx: Context, tenant_id: str, charge_id: str, approved_by: str) -> Charge:
    """A second person approves: the charge is booked as a billing item, once."""
    external_id(approved_by, "approved_by")

    def run() -> Charge:
        with ctx.uow() as uow:
            charge = uow.charges.get(tenant_id, charge_id)
            if charge.status is ChargeStatus.APPROVED:
                return charge
            account = uow.accounts.get(tenant_id, charge.account_id)
            now = ctx.now()
            item = RecordBillingItem(
                tenant_id=tenant_id,
                shop_id=account.shop_id,
                key=f"charge:{charge.reference}",
                order_id=f"charge:{charge.reference}",
                kind=ItemKind.FEE if charge.amount_minor < 0 else ItemKind.ADJUSTMENT,
                amount=charge.amount,
                occurred_at=now,
            )
            receipt = book_in(ctx, uow, item)
            # A refused approval (its proposer, a wrong state) rolls the booking back with it.
            charge.approve(now, approved_by, receipt.item_id)
            uow.commit()
            return charge

    return retrying(run)


def reject_charge(ctx: Context, tenant_id: str, charge_id: str, rejected_by: str) -> Charge:
    """A second person rejects: nothing is booked; a repeat returns the charge."""
    external_id(rejected_by, "rejected_by")

    def run() -> Charge:
        with ctx.uow() as uow:
            charge = uow.charges.get(tenant_id, charge_id)
            if charge.status is ChargeStatus.REJECTED:
                return charge
            charge.reject(ctx.now(), rejected_by)
            uow.commit()
            return charge

    return retrying(run)
