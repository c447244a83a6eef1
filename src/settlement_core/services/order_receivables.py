"""Receivables of order-status flows (R-ING-7) and the per-cycle check receivable >= payable.

A partner's receivable entries (what it owes us for its orders) are booked on
a receivable account of its own: the partner's shop id plus ORDER_RECEIVABLE_SUFFIX,
opened beside the partner's account with the same time zone and rule (so its
statements cover the same cycles), marked with the attribute book=receivable,
and held, so it accrues and is never paid out. Its settlement entries go on the
partner's own account as usual. This notion is local to order intake: it is not
the receivables and payables per party of the fee area.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from settlement_core.errors import NotFound
from settlement_core.model import Account, OpenAccount
from settlement_core.money import Money, from_minor
from settlement_core.ports import StatementFilter, paged
from settlement_core.ports.queries import MAX_PAGE_SIZE
from settlement_core.services.accounts import get_or_create_account, hold_account
from settlement_core.services.context import Context

ORDER_RECEIVABLE_SUFFIX = ".receivable"
ORDER_RECEIVABLE_ATTRIBUTE = ("book", "receivable")


def order_receivable_shop(shop_id: str) -> str:
    """The shop id of a partner's receivable account."""
    return f"{shop_id}{ORDER_RECEIVABLE_SUFFIX}"


def open_order_receivable_account(ctx: Context, tenant_id: str, shop_id: str) -> Account:
    """The partner's receivable account, opened (held) on first use; idempotent by shop id."""
    with ctx.uow() as uow:
        partner = uow.accounts.find_by_shop(tenant_id, shop_id)
    if partner is None:
        raise NotFound(f"no account for shop {shop_id!r} of tenant {tenant_id!r}")
    name, value = ORDER_RECEIVABLE_ATTRIBUTE
    receipt = get_or_create_account(
        ctx,
        OpenAccount(
            tenant_id=tenant_id,
            shop_id=order_receivable_shop(shop_id),
            time_zone=partner.time_zone,
            attributes={**partner.attributes, name: value},
            rule_override=partner.rule_override,
        ),
    )
    account = receipt.account
    if not account.is_held:
        account = hold_account(ctx, tenant_id, account.id)
    return account


@frozen
class OrderCoverFinding:
    """One partner's cycle where what it owes us is less than what we settle with it."""

    shop_id: str
    currency: str
    period_start: datetime
    receivable: Money
    payable: Money


def check_order_receivable_cover(
    ctx: Context,
    tenant_id: str,
    shop_ids: Sequence[str],
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> list[OrderCoverFinding]:
    """Per partner, cycle and currency: the cycles where receivable < payable (seed 002).

    Read-only. Cycles are statement periods (matched by their start); a cycle
    with payables and no receivable at all is reported too.
    """
    findings: list[OrderCoverFinding] = []
    for shop_id in shop_ids:
        receivable = _totals(ctx, tenant_id, order_receivable_shop(shop_id), period_from, period_to)
        payable = _totals(ctx, tenant_id, shop_id, period_from, period_to)
        for (currency, start), owed in sorted(payable.items()):
            held = receivable.get((currency, start), 0)
            if held < owed:
                findings.append(
                    OrderCoverFinding(
                        shop_id,
                        currency,
                        start,
                        from_minor(held, currency),
                        from_minor(owed, currency),
                    )
                )
    return findings


def _totals(
    ctx: Context,
    tenant_id: str,
    shop_id: str,
    period_from: datetime | None,
    period_to: datetime | None,
) -> dict[tuple[str, datetime], int]:
    totals: defaultdict[tuple[str, datetime], int] = defaultdict(int)
    with ctx.uow() as uow:
        account = uow.accounts.find_by_shop(tenant_id, shop_id)
        if account is None:
            return totals
        where = StatementFilter(
            tenant_id=tenant_id, account_id=account.id, period_from=period_from, period_to=period_to
        )
        for statement in paged(lambda after: uow.statements.query(where, after, MAX_PAGE_SIZE)):
            totals[(statement.currency, statement.period.start)] += statement.total_minor
    return totals
