"""What operations need to know to fund the channels: now, and at the coming cycle ends."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from attrs import frozen

from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import ReleaseSummaryStatus
from settlement_core.model import ReleaseSummary
from settlement_core.money import Money, from_minor
from settlement_core.ports import UnitOfWork
from settlement_core.services.context import Context
from settlement_core.timestamps import require_aware

WAITING = (ReleaseSummaryStatus.CREATED, ReleaseSummaryStatus.FUNDED)


@frozen(kw_only=True)
class ChannelPosition:
    """One channel and currency: what waits for funding, and what the channel holds."""

    channel: str
    currency: str
    awaiting_funding: Money  # created summaries
    awaiting_release: Money  # funded summaries
    free_funds: Money  # at the channel, set aside for nothing
    reserved: Money  # set aside for funded payouts not yet paid
    to_fund: Money  # what operations still have to send


@frozen(kw_only=True)
class OperationsReport:
    """Per-channel totals and the summaries waiting for funding or release (R-REL-1)."""

    tenant_id: str
    generated_at: datetime
    positions: tuple[ChannelPosition, ...]
    summaries: tuple[ReleaseSummary, ...]


@frozen(kw_only=True)
class ForecastLine:
    """What one channel will need for payouts due by a given instant."""

    channel: str
    currency: str
    accounts: int
    due_statements: Money  # unpaid statements payable by then, netted per account
    awaiting_release: Money  # payouts created but not funded yet
    free_funds: Money
    to_fund: Money


def _balance(uow: UnitOfWork, account: str, currency: str) -> int:
    return uow.ledger.balance(account, currency)


def operations_report(ctx: Context, tenant_id: str) -> OperationsReport:
    """Per channel and currency: summaries to fund and release, funds held, still to fund."""
    external_id(tenant_id, "tenant_id")
    with ctx.uow() as uow:
        summaries = [s for status in WAITING for s in uow.releases.find(tenant_id, status)]
        totals: defaultdict[tuple[str, str], dict[ReleaseSummaryStatus, int]] = defaultdict(
            lambda: dict.fromkeys(WAITING, 0)
        )
        for summary in summaries:
            totals[(summary.channel, summary.currency)][summary.status] += summary.total_minor
        for name in ctx.channels:
            for currency in uow.ledger.balances(ledger_accounts.channel_funds(tenant_id, name)):
                # A funded channel shows even when nothing waits for it.
                totals.setdefault((name, currency), dict.fromkeys(WAITING, 0))
        positions = []
        for (channel, currency), by_status in sorted(totals.items()):
            free = _balance(uow, ledger_accounts.channel_funds(tenant_id, channel), currency)
            reserved = _balance(uow, ledger_accounts.channel_reserved(tenant_id, channel), currency)
            waiting = by_status[ReleaseSummaryStatus.CREATED]
            positions.append(
                ChannelPosition(
                    channel=channel,
                    currency=currency,
                    awaiting_funding=from_minor(waiting, currency),
                    awaiting_release=from_minor(by_status[ReleaseSummaryStatus.FUNDED], currency),
                    free_funds=from_minor(free, currency),
                    reserved=from_minor(reserved, currency),
                    to_fund=from_minor(max(0, waiting - free), currency),
                )
            )
    ordered = sorted(summaries, key=lambda s: (s.channel, s.currency, s.id))
    return OperationsReport(
        tenant_id=tenant_id,
        generated_at=ctx.now(),
        positions=tuple(positions),
        summaries=tuple(ordered),
    )


def funding_forecast(ctx: Context, tenant_id: str, until: datetime) -> tuple[ForecastLine, ...]:
    """Per channel: what payouts due by `until` will need, beyond the channel's free funds.

    Counts every unpaid statement payable by then (open ones at their running
    total), netted per account and never below zero, plus payouts already
    created and not funded. An estimate: refunds still to come and currency
    conversion at payout time are not foreseen.
    """
    external_id(tenant_id, "tenant_id")
    until = require_aware(until, "until")
    due: defaultdict[tuple[str, str], int] = defaultdict(int)
    accounts: defaultdict[tuple[str, str], int] = defaultdict(int)
    awaiting: defaultdict[tuple[str, str], int] = defaultdict(int)
    with ctx.uow() as uow:
        for row in uow.statements.due_by_account(tenant_id, until):
            if row.total_minor > 0:
                due[(row.channel, row.currency)] += row.total_minor
                accounts[(row.channel, row.currency)] += 1
        for total in uow.payouts.unfunded_totals(tenant_id):
            awaiting[(total.channel, total.currency)] += total.total_minor
        lines = []
        for channel, currency in sorted(set(due) | set(awaiting)):
            need = due[(channel, currency)] + awaiting[(channel, currency)]
            free = _balance(uow, ledger_accounts.channel_funds(tenant_id, channel), currency)
            lines.append(
                ForecastLine(
                    channel=channel,
                    currency=currency,
                    accounts=accounts[(channel, currency)],
                    due_statements=from_minor(due[(channel, currency)], currency),
                    awaiting_release=from_minor(awaiting[(channel, currency)], currency),
                    free_funds=from_minor(free, currency),
                    to_fund=from_minor(max(0, need - free), currency),
                )
            )
    return tuple(lines)
