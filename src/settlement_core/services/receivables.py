"""Receivables and payables per party, settled by netting or gross (R-FEE-4, seed 004 105).

A netting party's fees (items of RECEIVABLE_KINDS) are deducted from its
payouts like any other item. A gross party's are not: when its statements
become payable, their receivable part moves from pending to the party's
receivable ledger account, the payable part alone is paid out, and one
Collection per currency bills what it owes. Collections are then settled on
their own flow: the party pays in (`record_collection`, idempotent by
collection + bank reference, in parts if need be), or an operator gives up
collecting apart (`offset_collection`) and the rest nets against its payouts.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

from settlement_core.errors import IdempotencyConflict, InvalidAmount, ValidationError
from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.ledger import postings
from settlement_core.lifecycle import CollectionStatus
from settlement_core.model import (
    RECEIVABLE_KINDS,
    Account,
    Collection,
    CollectionBilled,
    SettlementMode,
    Statement,
)
from settlement_core.money import Money, format_amount, to_minor
from settlement_core.ports import UnitOfWork
from settlement_core.services.context import Context, retrying


def receivable_totals(
    uow: UnitOfWork, work: list[tuple[Account, list[Statement]]]
) -> dict[str, int]:
    """What the due statements of the gross parties among `work` hold of RECEIVABLE_KINDS.

    One GROUP BY per chunk of statements for a whole batch of accounts; netting
    parties need none.
    """
    ids = [
        s.id
        for account, due in work
        if account.settlement_mode is SettlementMode.GROSS
        for s in due
    ]
    totals: dict[str, int] = {}
    for at in range(0, len(ids), 500):
        totals.update(uow.items.totals_of_kinds(ids[at : at + 500], RECEIVABLE_KINDS))
    return totals


def owed_by_statement(
    account: Account, due: list[Statement], totals: dict[str, int]
) -> dict[str, int]:
    """The receivable part (signed, < 0 owed) of each due statement of a gross party.

    `totals` holds the statements' sums of RECEIVABLE_KINDS (see
    `receivable_totals`). Empty for a netting party. Per currency, the split
    happens only when the party owes on balance: fees given back beyond the
    fees charged are simply payable, and net into its payout.
    """
    if account.settlement_mode is not SettlementMode.GROSS or not due:
        return {}
    per_currency: defaultdict[str, int] = defaultdict(int)
    for statement in due:
        per_currency[statement.currency] += totals.get(statement.id, 0)
    return {s.id: totals[s.id] for s in due if per_currency[s.currency] < 0 and totals.get(s.id, 0)}


def bill(
    ctx: Context,
    uow: UnitOfWork,
    account: Account,
    due: list[Statement],
    owed: dict[str, int],
    now: datetime,
) -> list[Collection]:
    """One collection per currency for what these due statements' receivables add up to.

    Keyed by (account, currency, statement set), so the same statements are
    never billed twice, even by two racing payout runs.
    """
    groups: defaultdict[str, list[Statement]] = defaultdict(list)
    for statement in due:
        if statement.id in owed:
            groups[statement.currency].append(statement)
    billed = []
    for currency, statements in sorted(groups.items()):
        amount = -sum(owed[s.id] for s in statements)
        ids = tuple(sorted(s.id for s in statements))
        digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]
        collection = Collection(
            id=ctx.ids.new_id(),
            tenant_id=account.tenant_id,
            account_id=account.id,
            key=f"{account.id}:{currency}:{digest}",
            currency=currency,
            amount_minor=amount,
            statement_ids=ids,
            created_at=now,
        )
        collection.events.append(
            CollectionBilled(
                tenant_id=account.tenant_id,
                at=now,
                collection_id=collection.id,
                account_id=account.id,
                amount_minor=amount,
                currency=currency,
                statement_ids=ids,
            )
        )
        uow.collections.add(collection)
        billed.append(collection)
    return billed


def _received_key(collection_id: str, reference: str) -> str:
    # Journal references are unique across tenants and at most 128 characters: the
    # collection id scopes the bank reference, a digest bounds its length.
    return f"{collection_id}:{hashlib.sha256(reference.encode()).hexdigest()[:40]}"


def record_collection(
    ctx: Context, tenant_id: str, collection_id: str, amount: Money, reference: str
) -> Collection:
    """The party paid `amount` of a collection (bank `reference`); in parts if need be.

    Idempotent by (collection, reference): a replay with the same amount returns
    the collection unchanged; another amount under that reference raises
    IdempotencyConflict. More than is outstanding is refused with InvalidAmount.
    """
    external_id(tenant_id, "tenant_id")
    external_id(collection_id, "collection_id")
    external_id(reference, "reference")
    minor = to_minor(amount)
    if minor <= 0:
        raise InvalidAmount(f"a collected amount must be positive, got {format_amount(amount)}")
    key = _received_key(collection_id, reference)

    def run() -> Collection:
        with ctx.uow() as uow:
            collection = uow.collections.get(tenant_id, collection_id)
            if amount.currency.code != collection.currency:
                raise InvalidAmount(
                    f"collection {collection_id} is in {collection.currency},"
                    f" not {amount.currency.code}"
                )
            found = uow.ledger.find("collection.received", key)
            if found is not None:
                receivable = ledger_accounts.receivable(collection.account_id)
                posted = sum(e.amount_minor for e in found.entries if e.account == receivable)
                if posted != minor:
                    raise IdempotencyConflict(
                        f"reference {reference!r} already paid {posted} minor units"
                        f" of collection {collection_id}"
                    )
                return collection
            now = ctx.now()
            collection.receive(minor, reference, now)
            uow.ledger.post(
                postings.collection_received(
                    ctx.ids.new_id(),
                    tenant_id,
                    collection.account_id,
                    key,
                    collection.currency,
                    minor,
                    now,
                )
            )
            uow.commit()
            return collection

    return retrying(run)


def offset_collection(
    ctx: Context, tenant_id: str, collection_id: str, by: str, reason: str
) -> Collection:
    """Stop collecting apart: what is outstanding nets against the party's payouts.

    Idempotent by collection: a collection already offset is returned as it is.
    """
    external_id(tenant_id, "tenant_id")
    external_id(collection_id, "collection_id")
    external_id(by, "by")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise ValidationError("an offset needs a reason of 1..500 characters")

    def run() -> Collection:
        with ctx.uow() as uow:
            collection = uow.collections.get(tenant_id, collection_id)
            if collection.status is CollectionStatus.OFFSET:
                return collection
            now = ctx.now()
            left = collection.offset(now)
            if left:
                uow.ledger.post(
                    postings.collection_offset(
                        ctx.ids.new_id(),
                        tenant_id,
                        collection.account_id,
                        collection.id,
                        collection.currency,
                        left,
                        now,
                    )
                )
            uow.commit()
            return collection

    return retrying(run)


def set_settlement_mode(ctx: Context, tenant_id: str, account_id: str, mode: str) -> Account:
    """Switch an account between netting and gross, from its next payout run on.

    Idempotent by mode: asking for the mode it already has changes nothing.
    """
    external_id(tenant_id, "tenant_id")
    external_id(account_id, "account_id")
    chosen = settlement_mode(mode)

    def run() -> Account:
        with ctx.uow() as uow:
            account = uow.accounts.get(tenant_id, account_id)
            if account.settlement_mode is not chosen:
                account.change_settlement_mode(chosen, ctx.now())
                uow.commit()
            return account

    return retrying(run)


def settlement_mode(value: object) -> SettlementMode:
    """A SettlementMode from its value ("net" or "gross"), or ValidationError."""
    if isinstance(value, str) and value in SettlementMode._value2member_map_:
        return SettlementMode(value)
    known = ", ".join(m.value for m in SettlementMode)
    raise ValidationError(f"unknown settlement mode {value!r}; one of {known}")
