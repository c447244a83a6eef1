"""Creating payouts from payable statements (R-PAY-1..5)."""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from datetime import datetime

from attrs import frozen

from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.ledger import postings
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
        for account_id in account_ids:
            statements = payable.get(account_id, [])
            skipped.extend(s.id for s in statements if s.has_mismatch)
            held.extend(s.id for s in statements if s.id in gated)
            due = [s for s in statements if not s.has_mismatch and s.id not in gated]
            if due:
                before = earlier.get(account_id, [])
                _pay_account(ctx, uow, account_id, due, before, as_of, now, created, carried)
        uow.commit()
    return PayoutReport(tuple(created), tuple(carried), tuple(skipped), tuple(held))


def _pay_account(
    ctx: Context,
    uow: UnitOfWork,
    account_id: str,
    due: list[Statement],
    earlier: list[Statement],
    as_of: datetime,
    now: datetime,
    created: list[str],
    carried: list[str],
) -> None:
    account = uow.accounts.get(due[0].tenant_id, account_id)
    brought = _make_available(ctx, uow, account, due, now)
    rule = due[-1].rule
    groups: defaultdict[str, list[Statement]] = defaultdict(list)
    for statement in due:
        groups[rule.payment_currency or statement.currency].append(statement)
    for target, group in groups.items():
        payout = _settle_group(ctx, uow, account, rule, target, group, earlier, brought, as_of, now)
        if payout is None:
            carried.extend(s.id for s in group)
        else:
            created.append(payout.id)


def _make_available(
    ctx: Context, uow: UnitOfWork, account: Account, due: list[Statement], now: datetime
) -> dict[str, int]:
    available = ledger_accounts.available(account.id)
    receivable = receivables.owed_by_statement(uow, account, due)
    brought: dict[str, int] = {}
    for statement in due:
        brought[statement.id] = uow.ledger.balance(available, statement.currency)
        owed = receivable.get(statement.id, 0)
        for posting, amount in (
            (postings.statement_payable, statement.total_minor - owed),
            (postings.statement_receivable, owed),
        ):
            if amount:
                uow.ledger.post(
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
    account: Account,
    rule: PayoutRule,
    target: str,
    group: list[Statement],
    carried_before: list[Statement],
    brought: dict[str, int],
    as_of: datetime,
    now: datetime,
) -> Payout | None:
    available = ledger_accounts.available(account.id)
    balances = {
        ccy: amount
        for ccy, amount in uow.ledger.balances(available).items()
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
    uow.ledger.post(transaction)
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
