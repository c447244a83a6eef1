"""Creating payouts from payable statements (R-PAY-1..5)."""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from datetime import datetime

from attrs import frozen

from settlement_core.ledger import JournalTransaction, postings
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import PayoutStatus, StatementStatus
from settlement_core.model import (
    Account,
    FxQuote,
    Payout,
    PayoutCreated,
    PayoutReplaced,
    PayoutSource,
    Statement,
)
from settlement_core.money import Rounding, convert, from_minor, to_minor
from settlement_core.ports import UnitOfWork, metrics
from settlement_core.rules import PayoutRule
from settlement_core.services import receivables
from settlement_core.services.context import Context, retrying

# FX conversions of payouts round half-even: unbiased over many payouts.
PAYOUT_FX_ROUNDING = Rounding.HALF_EVEN


@frozen
class PayoutReport:
    """What a payout run did."""

    created: tuple[str, ...]
    carried: tuple[str, ...]
    skipped_mismatch: tuple[str, ...]
    # Statements kept out because they hold items of a run not approved or being revoked.
    held_by_run: tuple[str, ...] = ()


def create_payouts(ctx: Context, as_of: datetime) -> PayoutReport:
    """Turn every statement payable at `as_of` into payouts or carried balances.

    Per account: due statements move from pending to available; then, per
    payout currency, the available balance is paid out in one payout, or carried
    forward when the account is held, the balance is below the threshold, or it
    is a debt. One transaction per batch of accounts, whose payable statements
    are read (and locked) in one query. Idempotent: a statement is paid out or
    carried exactly once, and each payout's key is its statement set.
    """
    as_of = ctx.not_after_now(as_of, "as_of")
    created: list[str] = []
    carried: list[str] = []
    skipped: list[str] = []
    held: list[str] = []
    after: str | None = None
    while True:
        with ctx.uow() as uow:
            account_ids = uow.statements.accounts_with_payable(as_of, after, ctx.batch_size)
        if not account_ids:
            break
        outcome = retrying(functools.partial(_pay_accounts, ctx, account_ids, as_of))
        created.extend(outcome.created)
        carried.extend(outcome.carried)
        skipped.extend(outcome.skipped_mismatch)
        held.extend(outcome.held_by_run)
        after = account_ids[-1]
    if created:
        ctx.metrics.count(metrics.PAYOUTS_CREATED, len(created), {"kind": "scheduled"})
    return PayoutReport(tuple(created), tuple(carried), tuple(skipped), tuple(held))


def _pay_accounts(ctx: Context, account_ids: list[str], as_of: datetime) -> PayoutReport:
    created: list[str] = []
    carried: list[str] = []
    skipped: list[str] = []
    held: list[str] = []
    with ctx.uow() as uow:
        payable = uow.statements.payable_for_accounts(account_ids, as_of)
        # Read once per batch, not once per account: a query per account made the
        # SQL unit of work flush (and diff everything it tracks) per account.
        earlier = uow.statements.carried_for_accounts(account_ids)
        gated = uow.runs.gated_statements([s.id for ss in payable.values() for s in ss], as_of)
        now = ctx.now()
        work: list[tuple[Account, list[Statement]]] = []
        for account_id in account_ids:
            statements = payable.get(account_id, [])
            skipped.extend(s.id for s in statements if s.has_mismatch)
            held.extend(s.id for s in statements if s.id in gated)
            due = [s for s in statements if not s.has_mismatch and s.id not in gated]
            if due:
                work.append((uow.accounts.get(due[0].tenant_id, account_id), due))
        # Everything the accounts' settlement reads is read here, for the whole batch:
        # a read between two accounts costs a query and, on SQL, a flush.
        owed = receivables.receivable_totals(uow, work)
        balances = Available(uow, [account.id for account, _ in work])
        for account, due in work:
            before = earlier.get(account.id, [])
            _pay_account(
                ctx, uow, balances, account, due, before, owed, as_of, now, created, carried
            )
        uow.commit()
    return PayoutReport(tuple(created), tuple(carried), tuple(skipped), tuple(held))


class Available:
    """The available balances of a batch's accounts: read in one go, kept current as we post.

    Only this batch posts to these accounts' available balances inside the
    transaction, so the balances read up front plus what is posted through
    `post` are what the ledger itself would answer.
    """

    def __init__(self, uow: UnitOfWork, account_ids: list[str]) -> None:
        self._uow = uow
        self._known = uow.ledger.balances_of([ledger_accounts.available(a) for a in account_ids])

    def post(self, transaction: JournalTransaction) -> None:
        """Post to the ledger and fold the entries into the balances we keep."""
        self._uow.ledger.post(transaction)
        for entry in transaction.entries:
            mine = self._known.get(entry.account)
            if mine is not None:
                mine[entry.currency] = mine.get(entry.currency, 0) + entry.amount_minor

    def balance(self, account_id: str, currency: str) -> int:
        """One currency's available balance of an account of the batch."""
        return self._known[ledger_accounts.available(account_id)].get(currency, 0)

    def balances(self, account_id: str) -> dict[str, int]:
        """The non-zero available balances per currency of an account of the batch."""
        found = self._known[ledger_accounts.available(account_id)]
        return {ccy: amount for ccy, amount in found.items() if amount}


def _pay_account(
    ctx: Context,
    uow: UnitOfWork,
    balances: Available,
    account: Account,
    due: list[Statement],
    earlier: list[Statement],
    owed_totals: dict[str, int],
    as_of: datetime,
    now: datetime,
    created: list[str],
    carried: list[str],
) -> None:
    brought = _make_available(ctx, uow, balances, account, due, owed_totals, now)
    rule = due[-1].rule
    groups: defaultdict[str, list[Statement]] = defaultdict(list)
    for statement in due:
        groups[rule.payment_currency or statement.currency].append(statement)
    for target, group in groups.items():
        payout = _settle_group(
            ctx, uow, balances, account, rule, target, group, earlier, brought, as_of, now
        )
        if payout is None:
            carried.extend(s.id for s in group)
        else:
            created.append(payout.id)


def _make_available(
    ctx: Context,
    uow: UnitOfWork,
    balances: Available,
    account: Account,
    due: list[Statement],
    owed_totals: dict[str, int],
    now: datetime,
) -> dict[str, int]:
    receivable = receivables.owed_by_statement(account, due, owed_totals)
    brought: dict[str, int] = {}
    for statement in due:
        brought[statement.id] = balances.balance(account.id, statement.currency)
        owed = receivable.get(statement.id, 0)
        for posting, amount in (
            (postings.statement_payable, statement.total_minor - owed),
            (postings.statement_receivable, owed),
        ):
            if amount:
                balances.post(
                    posting(
                        ctx.ids.new_id(),
                        account.tenant_id,
                        account.id,
                        statement.id,
                        statement.currency,
                        amount,
                        now,
                    )
                )
    receivables.bill(ctx, uow, account, due, receivable, now)
    return brought


def _settle_group(
    ctx: Context,
    uow: UnitOfWork,
    available: Available,
    account: Account,
    rule: PayoutRule,
    target: str,
    group: list[Statement],
    carried_before: list[Statement],
    brought: dict[str, int],
    as_of: datetime,
    now: datetime,
) -> Payout | None:
    balances = {
        ccy: amount
        for ccy, amount in available.balances(account.id).items()
        if (rule.payment_currency or ccy) == target
    }
    sources = [_source(ctx, ccy, amount, target, as_of) for ccy, amount in sorted(balances.items())]
    total = sum(s.converted_minor for s in sources)
    if (
        account.is_held
        or rule.is_hold
        or total <= 0
        or total < _threshold(ctx, rule, target, as_of)
    ):
        for statement in group:
            statement.carry_forward(now, brought[statement.id], balances.get(statement.currency, 0))
        return None
    earlier = [
        s
        for s in carried_before
        if s.status is StatementStatus.CARRIED_FORWARD
        and (rule.payment_currency or s.currency) == target
    ]
    paid = sorted([*group, *earlier], key=lambda s: s.period.start)
    payout_id = ctx.ids.new_id()
    transaction = postings.payout_created(
        ctx.ids.new_id(),
        account.tenant_id,
        account.id,
        payout_id,
        target,
        total,
        [(s.currency, s.amount_minor, s.converted_minor) for s in sources],
        now,
    )
    available.post(transaction)
    payout = Payout(
        id=payout_id,
        tenant_id=account.tenant_id,
        account_id=account.id,
        key=_payout_key(account.id, target, paid),
        amount_minor=total,
        currency=target,
        sources=tuple(sources),
        statement_ids=tuple(s.id for s in paid),
        created_at=now,
        transaction_id=transaction.id,
        method_ref=account.payout_method_ref,
        status=PayoutStatus.CREATED if rule.auto_payment else PayoutStatus.PENDING_APPROVAL,
        channel=account.payout_channel,
        replaces=tuple(sorted({s.payout_id for s in earlier if s.payout_id is not None})),
    )
    payout.events.append(
        PayoutCreated(
            tenant_id=account.tenant_id,
            at=now,
            payout_id=payout.id,
            account_id=account.id,
            amount_minor=total,
            currency=target,
            statement_ids=payout.statement_ids,
            needs_approval=not rule.auto_payment,
        )
    )
    uow.payouts.add(payout)
    for statement in paid:
        statement.pay_out(now, payout.id, brought.get(statement.id))
    for replaced_id in payout.replaces:
        _link_replacement(uow, account.tenant_id, replaced_id, payout.id, now)
    return payout


def _link_replacement(
    uow: UnitOfWork, tenant_id: str, replaced_id: str, payout_id: str, now: datetime
) -> None:
    replaced = uow.payouts.get(tenant_id, replaced_id)
    replaced.replaced_by = payout_id
    replaced.events.append(
        PayoutReplaced(tenant_id=tenant_id, at=now, payout_id=replaced_id, replaced_by=payout_id)
    )


def _payout_key(account_id: str, currency: str, statements: list[Statement]) -> str:
    digest = hashlib.sha256(",".join(sorted(s.id for s in statements)).encode()).hexdigest()
    return f"{account_id}:{currency}:{digest[:32]}"


def _source(ctx: Context, currency: str, amount: int, target: str, as_of: datetime) -> PayoutSource:
    if currency == target:
        return PayoutSource(currency, amount, amount)
    quote = ctx.fx.quote(currency, target, as_of)
    converted = convert(from_minor(amount, currency), quote.rate, target, PAYOUT_FX_ROUNDING)
    return PayoutSource(currency, amount, to_minor(converted), fx=quote)


def _threshold(ctx: Context, rule: PayoutRule, target: str, as_of: datetime) -> int:
    threshold = rule.payment_threshold
    if threshold is None:
        return 0
    if threshold.currency.code == target:
        return to_minor(threshold)
    quote: FxQuote = ctx.fx.quote(threshold.currency.code, target, as_of)
    return to_minor(convert(threshold, quote.rate, target, PAYOUT_FX_ROUNDING))
