"""The CLI's operator commands: accounts, ingest, balances, statements, reports, traces."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from settlement_adapters.cli.billing_file import guess_format, read_billing_file
from settlement_adapters.cli.render import Result, Table, money_text
from settlement_adapters.cli.session import Session
from settlement_adapters.operations_report import write_operations_report
from settlement_core import OpenAccount, Statement, StatementFilter, from_minor
from settlement_core.errors import ValidationError
from settlement_core.ports import paged


def open_account(session: Session, args: argparse.Namespace) -> Result:
    """Get or create a shop's account (idempotent by tenant + shop id)."""
    attributes = {}
    for pair in args.attr:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValidationError(f"--attr takes name=value, got {pair!r}")
        attributes[name] = value
    cmd = OpenAccount(
        tenant_id=session.tenant(args),
        shop_id=args.shop,
        time_zone=args.time_zone,
        attributes=attributes,
        rule_override=args.rule,
        payout_channel=args.channel,
        payout_method_ref=args.method_ref,
    )
    receipt = session.app.get_or_create_account(cmd)
    account = receipt.account
    return Result(
        {
            "account_id": account.id,
            "shop_id": account.shop_id,
            "rule": account.rule_id,
            "created": receipt.created,
        }
    )


def ingest(session: Session, args: argparse.Namespace) -> Result:
    """Book a CSV or JSON-lines file of billing items, in batches (a re-run replays)."""
    source = str(args.file)
    if source == "-":
        text, file_format = sys.stdin.read(), args.format or "jsonl"
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read {source}: {exc.strerror}") from exc
        file_format = args.format or guess_format(Path(args.file))
    commands = read_billing_file(text, file_format, args.tenant or session.config.tenant, source)
    opened = 0
    if args.open_accounts:
        for tenant, shop in sorted({(c.tenant_id, c.shop_id) for c in commands}):
            receipt = session.app.get_or_create_account(
                OpenAccount(
                    tenant_id=tenant,
                    shop_id=shop,
                    time_zone=args.time_zone,
                    payout_channel=args.channel,
                )
            )
            opened += receipt.created
    recorded = replayed = 0
    size = session.config.batch_size
    for at in range(0, len(commands), size):
        receipts = session.app.record_billing_items(commands[at : at + size])
        recorded += sum(not r.replayed for r in receipts)
        replayed += sum(r.replayed for r in receipts)
    return Result(
        {"file": source, "rows": len(commands), "recorded": recorded, "replayed": replayed}
        | ({"accounts_opened": opened} if args.open_accounts else {})
    )


def balance(session: Session, args: argparse.Namespace) -> Result:
    """An account's pending, available and frozen money, per currency."""
    account = session.account(args)
    found = session.app.balance(account.tenant_id, account.id)
    parts = {"pending": found.pending, "available": found.available, "frozen": found.frozen}
    rows = [
        (part, money_text(amount)) for part, amounts in parts.items() for amount in amounts.values()
    ]
    return Result(
        {
            "shop_id": account.shop_id,
            "account_id": account.id,
            "status": account.status,
            "rule": account.rule_id,
            **parts,
        },
        tables=(Table(f"balance of {account.shop_id}", ("part", "amount"), rows),),
    )


def statements(session: Session, args: argparse.Namespace) -> Result:
    """An account's statements, newest first (the last --limit)."""
    account = session.account(args)
    where = StatementFilter(tenant_id=account.tenant_id, account_id=account.id)
    found = list(paged(lambda c: session.app.query_statements(where, c, 500)))
    found.sort(key=lambda s: (s.period.start, s.currency), reverse=True)
    shown = found[: args.limit]
    data = [_statement(s) for s in shown]
    rows = [
        (
            f"{s.period.start:%Y-%m-%d}..{s.period.end:%Y-%m-%d}",
            s.status.value,
            str(s.item_count),
            money_text(s.total),
            money_text(from_minor(s.carried_forward_minor, s.currency))
            if s.carried_forward_minor
            else "",
            s.payout_id or "",
        )
        for s in shown
    ]
    columns = ("period", "status", "items", "total", "carried", "payout")
    return Result(
        {"shop_id": account.shop_id, "count": len(found), "statements": data},
        tables=(Table(f"statements of {account.shop_id}", columns, rows),),
    )


def _statement(s: Statement) -> dict[str, object]:
    return {
        "id": s.id,
        "period_start": s.period.start,
        "period_end": s.period.end,
        "status": s.status,
        "currency": s.currency,
        "item_count": s.item_count,
        "total": s.total,
        "carried_forward_minor": s.carried_forward_minor,
        "payout_id": s.payout_id,
        "payable_at": s.payable_at,
    }


def report(session: Session, args: argparse.Namespace) -> Result:
    """Write the operations report (two CSV files and a page) into --out."""
    tenant = session.tenant(args)
    files = write_operations_report(session.app.operations_report(tenant), args.out)
    return Result(
        {
            "positions_csv": str(files.positions_csv),
            "summaries_csv": str(files.summaries_csv),
            "page_html": str(files.page_html),
        }
    )


def trace(session: Session, args: argparse.Namespace) -> Result:
    """One order end to end: items, statements, payouts, releases, channel answers, ledger."""
    tenant = session.tenant(args)
    found = session.app.trace_order(tenant, args.order_id)
    steps = [
        {"at": step.at, "what": step.what, "ref": step.ref, "detail": step.detail}
        for step in found.timeline
    ]
    rows = [(f"{s.at:%Y-%m-%d %H:%M:%S}", s.what, s.ref, s.detail) for s in found.timeline]
    return Result(
        {
            "order_id": found.order_id,
            "items": len(found.items),
            "statements": len(found.statements),
            "payouts": len(found.payouts),
            "timeline": steps,
        },
        tables=(Table(f"order {found.order_id}", ("at", "what", "ref", "detail"), rows),),
    )
