"""Invariants that hold after any sequence of commands, checked through the public API."""

from __future__ import annotations

from collections import defaultdict
from typing import TypeVar

from settlement_core.lifecycle import FreezeStatus, PayoutStatus, StatementStatus
from settlement_core.model import BillingItem, Payout, Statement
from settlement_core.money import to_minor
from settlement_core.ports import ItemFilter, PayoutFilter, StatementFilter, paged
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT, Marketplace

T = TypeVar("T")

# Payouts whose money went back to the balance.
RETURNED = {PayoutStatus.FAILED_NO_RETRY, PayoutStatus.CANCELLED, PayoutStatus.RETURNED}


def everything(
    app: Settlement, tenant_id: str = TENANT
) -> tuple[list[BillingItem], list[Statement], list[Payout]]:
    """Every item, statement and payout of a tenant."""
    items = list(paged(lambda c: app.query_items(ItemFilter(tenant_id=tenant_id), c, 1000)))
    statements = list(
        paged(lambda c: app.query_statements(StatementFilter(tenant_id=tenant_id), c, 1000))
    )
    payouts = list(paged(lambda c: app.query_payouts(PayoutFilter(tenant_id=tenant_id), c, 1000)))
    return items, statements, payouts


def assert_invariants(market: Marketplace, tenant_id: str = TENANT) -> None:
    """Money in equals money out, per account and currency, and nothing is paid twice.

    For every account and currency: the sum of its items equals pending +
    available + frozen + receivable balance + what live payouts drew from it +
    what confirmed freezes spent - what the party paid in on collections; the
    receivable balance is what its collections still bill; statement totals
    equal their items; each statement is paid by at most one payout.
    """
    assert_money_invariants(market.app, tenant_id)


def assert_money_invariants(app: Settlement, tenant_id: str) -> None:
    """The same checks on any Settlement (a database a demo or the CLI left behind)."""
    items, statements, payouts = everything(app, tenant_id)
    booked: defaultdict[tuple[str, str], int] = defaultdict(int)
    per_statement: defaultdict[str, int] = defaultdict(int)
    for item in items:
        booked[(item.account_id, item.currency)] += item.amount_minor
        per_statement[item.statement_id] += item.amount_minor
    for statement in statements:
        assert statement.total_minor == per_statement[statement.id], statement
    drawn: defaultdict[tuple[str, str], int] = defaultdict(int)
    paid_by: dict[str, str] = {}
    for payout in payouts:
        assert payout.amount_minor == sum(s.converted_minor for s in payout.sources), payout
        if payout.status in RETURNED:
            continue
        for source in payout.sources:
            drawn[(payout.account_id, source.currency)] += source.amount_minor
        for statement_id in payout.statement_ids:
            assert statement_id not in paid_by, f"statement {statement_id} paid twice"
            paid_by[statement_id] = payout.id
    for statement in statements:
        if statement.status is StatementStatus.PAID_OUT:
            assert paid_by.get(statement.id, statement.payout_id) == statement.payout_id
            assert statement.payout_id is not None
    _assert_ledger(app, tenant_id, payouts)
    accounts = {account_id for account_id, _ in booked} | {p.account_id for p in payouts}
    spent = _confirmed_freezes(app, tenant_id)
    for (account_id, currency), amount in spent.items():
        drawn[(account_id, currency)] += amount
    collected, owed = _collections(app, tenant_id)
    for (account_id, currency), amount in collected.items():
        drawn[(account_id, currency)] -= amount
    for account_id in accounts:
        balance = app.balance(tenant_id, account_id)
        currencies = (
            {c for a, c in booked if a == account_id}
            | set(balance.pending)
            | set(balance.available)
            | set(balance.receivable)
            | {c for a, c in drawn if a == account_id}
        )
        for currency in currencies:
            receivable = balance.receivable.get(currency)
            assert (to_minor(receivable) if receivable else 0) == -owed[(account_id, currency)], (
                f"account {account_id} {currency}: receivable {receivable} is not what its"
                f" collections still bill ({owed[(account_id, currency)]})"
            )
            held = sum(
                to_minor(part[currency])
                for part in (
                    balance.pending,
                    balance.available,
                    balance.frozen,
                    balance.receivable,
                )
                if currency in part
            )
            assert booked[(account_id, currency)] == held + drawn[(account_id, currency)], (
                f"account {account_id} {currency}: items {booked[(account_id, currency)]}"
                f" != balance {held} + payouts {drawn[(account_id, currency)]}"
            )


def _confirmed_freezes(app: Settlement, tenant_id: str) -> defaultdict[tuple[str, str], int]:
    """What confirmed freezes spent, per account and currency."""
    spent: defaultdict[tuple[str, str], int] = defaultdict(int)
    with app.context.uow() as uow:
        for held in paged(
            lambda c: uow.freezes.query(tenant_id, None, FreezeStatus.CONFIRMED, c, 1000)
        ):
            spent[(held.account_id, held.currency)] += held.amount_minor
    return spent


def _collections(
    app: Settlement, tenant_id: str
) -> tuple[defaultdict[tuple[str, str], int], defaultdict[tuple[str, str], int]]:
    """What parties paid in on their collections, and what they still owe on them."""
    paid: defaultdict[tuple[str, str], int] = defaultdict(int)
    owed: defaultdict[tuple[str, str], int] = defaultdict(int)
    for collection in paged(lambda c: app.query_collections(tenant_id, after=c, limit=1000)):
        assert collection.amount_minor > 0, collection
        assert 0 <= collection.outstanding_minor <= collection.amount_minor, collection
        paid[(collection.account_id, collection.currency)] += collection.collected_minor
        owed[(collection.account_id, collection.currency)] += collection.outstanding_minor
    return paid, owed


def _assert_ledger(app: Settlement, tenant_id: str, payouts: list[Payout]) -> None:
    """The journal sums to zero per currency; each payout's money moved exactly once.

    Paid (and later returned) payouts were posted paid once; returned ones had
    that payment reversed once; every payout whose money came back had its
    creation reversed once, and no other payout had.
    """
    with app.context.uow() as uow:
        transactions = uow.ledger.transactions(tenant_id)
    totals: defaultdict[str, int] = defaultdict(int)
    by_kind: defaultdict[str, list[str]] = defaultdict(list)
    for transaction in transactions:
        for entry in transaction.entries:
            totals[entry.currency] += entry.amount_minor
        by_kind[transaction.kind].append(transaction.reference)
    assert all(total == 0 for total in totals.values()), totals
    paid = [p.id for p in payouts if p.status in (PayoutStatus.PAID, PayoutStatus.RETURNED)]
    returned = [p.id for p in payouts if p.status is PayoutStatus.RETURNED]
    given_back = [p.id for p in payouts if p.status in RETURNED]
    assert sorted(by_kind["payout.paid"]) == sorted(paid), (
        "a payout was posted paid twice or not at all"
    )
    assert sorted(by_kind["payout.paid.reversal"]) == sorted(returned), "a return was posted twice"
    assert sorted(by_kind["payout.created.reversal"]) == sorted(given_back), (
        "a payout's money came back twice, or not at all"
    )
