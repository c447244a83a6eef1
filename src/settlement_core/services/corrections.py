"""Working a discrepancy (R-REC-3): suspense, reverse, re-post; each explicit and audited.

Every command names the discrepancy it answers, the operator and a reason. The
postings it makes carry the discrepancy id as their reference (so each is made
once, whatever is retried), and the discrepancy is resolved in the same
transaction with a resolution naming them. Corrections never edit a posting:
they add new ones (R-LED-1).
"""

from __future__ import annotations

from collections.abc import Sequence

from settlement_core.errors import InvalidTransition, NotFound, ValidationError
from settlement_core.ids import external_id
from settlement_core.ledger import Entry, JournalTransaction
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import DiscrepancyStatus
from settlement_core.model import Discrepancy
from settlement_core.ports import UnitOfWork
from settlement_core.services.context import Context, retrying


def to_suspense(
    ctx: Context, tenant_id: str, discrepancy_id: str, account: str, by: str, reason: str
) -> Discrepancy:
    """Park a discrepancy's unexplained difference: `account` gives it to the tenant's suspense.

    The difference is actual - expected of the discrepancy, in its currency;
    `account` must be one of the tenant's own ledger accounts.
    """
    _check(by, reason)

    def run() -> Discrepancy:
        with ctx.uow() as uow:
            _own(uow, tenant_id, account)
            discrepancy = _open(uow, tenant_id, discrepancy_id)
            if discrepancy.status is DiscrepancyStatus.RESOLVED:
                return discrepancy
            expected, actual = discrepancy.expected_minor, discrepancy.actual_minor
            currency = discrepancy.currency
            if expected is None or actual is None or currency is None or actual == expected:
                raise ValidationError(f"discrepancy {discrepancy_id} has no amount to park")
            difference = actual - expected
            posted = JournalTransaction(
                id=ctx.ids.new_id(),
                tenant_id=tenant_id,
                kind="correction.suspense",
                reference=discrepancy.id,
                occurred_at=ctx.now(),
                entries=(
                    Entry(account, currency, -difference),
                    Entry(ledger_accounts.suspense(tenant_id), currency, difference),
                ),
            )
            uow.ledger.post(posted)
            return _resolve(ctx, uow, discrepancy, by, reason, f"suspense {posted.id}")

    return retrying(run)


def reverse_posting(
    ctx: Context, tenant_id: str, discrepancy_id: str, transaction_id: str, by: str, reason: str
) -> Discrepancy:
    """Undo a posting that should not have been made, by posting its exact reversal."""
    _check(by, reason)

    def run() -> Discrepancy:
        with ctx.uow() as uow:
            discrepancy = _open(uow, tenant_id, discrepancy_id)
            if discrepancy.status is DiscrepancyStatus.RESOLVED:
                return discrepancy
            wrong = _posting(uow, tenant_id, transaction_id)
            undone = wrong.reversal(ctx.ids.new_id(), ctx.now(), _reference(discrepancy))
            uow.ledger.post(undone)
            return _resolve(
                ctx, uow, discrepancy, by, reason, f"reversed {wrong.id} by {undone.id}"
            )

    return retrying(run)


def repost(
    ctx: Context,
    tenant_id: str,
    discrepancy_id: str,
    transaction_id: str,
    entries: Sequence[Entry],
    by: str,
    reason: str,
) -> Discrepancy:
    """Replace a wrong posting: reverse it and post the corrected legs (which must balance)."""
    _check(by, reason)

    def run() -> Discrepancy:
        with ctx.uow() as uow:
            for entry in entries:
                _own(uow, tenant_id, entry.account)
            discrepancy = _open(uow, tenant_id, discrepancy_id)
            if discrepancy.status is DiscrepancyStatus.RESOLVED:
                return discrepancy
            wrong = _posting(uow, tenant_id, transaction_id)
            now = ctx.now()
            undone = wrong.reversal(ctx.ids.new_id(), now, _reference(discrepancy))
            corrected = JournalTransaction(
                id=ctx.ids.new_id(),
                tenant_id=tenant_id,
                kind="correction.repost",
                reference=discrepancy.id,
                occurred_at=now,
                entries=tuple(entries),
            )
            uow.ledger.post(undone)
            uow.ledger.post(corrected)
            note = f"reversed {wrong.id} by {undone.id}, reposted as {corrected.id}"
            return _resolve(ctx, uow, discrepancy, by, reason, note)

    return retrying(run)


def _check(by: str, reason: str) -> None:
    external_id(by, "by")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 800:
        raise ValidationError("a correction needs a reason of 1..800 characters")


def _own(uow: UnitOfWork, tenant_id: str, account: str) -> None:
    # Another tenant's party account is refused as if it did not exist (R-SEC-2);
    # the platform's own accounts are the counterparty of many postings.
    if account.startswith("platform:"):
        return
    if ledger_accounts.owned_by(account, tenant_id):
        if not account.startswith("party:"):
            return
        try:
            uow.accounts.get(tenant_id, account.split(":")[1])
            return
        except NotFound:
            pass
    raise ValidationError(f"{account!r} is not a ledger account of tenant {tenant_id!r}")


def _open(uow: UnitOfWork, tenant_id: str, discrepancy_id: str) -> Discrepancy:
    return uow.discrepancies.get(tenant_id, discrepancy_id)


def _reference(discrepancy: Discrepancy) -> str:
    return f"correction:{discrepancy.id}"


def _posting(uow: UnitOfWork, tenant_id: str, transaction_id: str) -> JournalTransaction:
    external_id(transaction_id, "transaction_id")
    try:
        found = uow.ledger.get(transaction_id)
    except NotFound:
        found = None
    if found is None or found.tenant_id != tenant_id:
        raise NotFound(f"journal transaction {transaction_id!r} not found")
    if found.kind.startswith("correction.") or found.reverses is not None:
        raise InvalidTransition("JournalTransaction", found.kind, "correct a correction")
    return found


def _resolve(
    ctx: Context, uow: UnitOfWork, discrepancy: Discrepancy, by: str, reason: str, note: str
) -> Discrepancy:
    discrepancy.resolve(ctx.now(), by, f"{reason} [{note}]")
    uow.commit()
    return discrepancy
