"""The CLI's job commands: what a scheduler runs, each with `--as-of`, each idempotent.

Each function takes the open `Session` and the parsed arguments and returns a
`Result`. The jobs are the library's own (`Settlement.close_cycles` and so on);
these functions only choose the tenant and shape the answer.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import timedelta

from settlement_adapters.channels import read_report
from settlement_adapters.cli.render import EXIT_FINDINGS, EXIT_OK, Result, Table
from settlement_adapters.cli.session import Session
from settlement_adapters.config import parse_money
from settlement_core import ApprovePayout, ReleaseSummaryStatus
from settlement_core.services.channel_reconcile import Matching
from settlement_core.services.reconcile import ReconciliationReport


def close(session: Session, args: argparse.Namespace) -> Result:
    """Close every statement whose period ended by --as-of (all tenants)."""
    report = session.app.close_cycles(session.now())
    code = EXIT_FINDINGS if report.mismatched else EXIT_OK
    data = {"as_of": session.now(), "closed": report.closed, "mismatched": list(report.mismatched)}
    return Result(data, code)


def payouts(session: Session, args: argparse.Namespace) -> Result:
    """Create payouts (or carry balances forward) for statements payable at --as-of."""
    report = session.app.create_payouts(session.now())
    data = {
        "as_of": session.now(),
        "created": len(report.created),
        "carried": len(report.carried),
        "skipped_mismatch": len(report.skipped_mismatch),
        "payout_ids": list(report.created),
    }
    return Result(data, EXIT_FINDINGS if report.skipped_mismatch else EXIT_OK)


def approve(session: Session, args: argparse.Namespace) -> Result:
    """Approve payouts waiting for an operator (idempotent by payout id)."""
    tenant = session.tenant(args)
    approved = []
    for payout_id in args.payout_ids:
        cmd = ApprovePayout(tenant_id=tenant, payout_id=payout_id, approved_by=args.by)
        approved.append(session.app.approve_payout(cmd).id)
    return Result({"approved": len(approved), "payout_ids": approved})


def prepare_release(session: Session, args: argparse.Namespace) -> Result:
    """Group payouts ready to go into release summaries per channel (all tenants)."""
    ids = session.app.prepare_release(session.now())
    return Result({"as_of": session.now(), "summaries": len(ids), "summary_ids": list(ids)})


def fund(session: Session, args: argparse.Namespace) -> Result:
    """Record money sent to a channel (idempotent by --reference)."""
    tenant = session.tenant(args)
    amount = parse_money(args.amount, "--amount")
    receipt = session.app.record_funding(tenant, args.channel, amount, args.reference)
    return Result(
        {
            "funding_id": receipt.funding.id,
            "replayed": receipt.replayed,
            "funded_summaries": list(receipt.funded),
        }
    )


def release(session: Session, args: argparse.Namespace) -> Result:
    """Send funded summaries to their channels (the ones named, or every funded one)."""
    tenant = session.tenant(args)
    ids = args.summary_ids or [
        s.id
        for s in session.app.operations_report(tenant).summaries
        if s.status is ReleaseSummaryStatus.FUNDED
    ]
    released = [session.app.release(tenant, summary_id).id for summary_id in ids]
    return Result({"released": len(released), "summary_ids": released})


def poll(session: Session, args: argparse.Namespace) -> Result:
    """Ask the channels about payouts still waiting for an answer (all tenants)."""
    report = session.app.poll_channels(session.now())
    return Result({"as_of": session.now(), "asked": report.sent, "changed": report.changed})


def retry(session: Session, args: argparse.Namespace) -> Result:
    """Resend failed payouts whose backoff has passed (all tenants)."""
    report = session.app.retry_failed_payouts(session.now())
    return Result({"as_of": session.now(), "sent": report.sent, "changed": report.changed})


def reconcile(session: Session, args: argparse.Namespace) -> Result:
    """The full check (or `--recent`: only what changed); exit 1 when anything is off."""
    tenant = session.tenant(args)
    if args.recent:
        report = session.app.reconcile_recent(tenant, session.now(), dry_run=args.dry_run)
    else:
        report = session.app.reconcile(tenant, session.now(), dry_run=args.dry_run)
    return _findings(report)


def reconcile_channel(session: Session, args: argparse.Namespace) -> Result:
    """Match payouts sent in [--since, --until) with a channel's settlement report file."""
    tenant = session.tenant(args)
    report = session.app.reconcile_channel(
        tenant,
        args.channel,
        read_report(args.report),
        since=args.since,
        until=args.until,
        matching=Matching(args.matching),
        amount_tolerance_minor=args.amount_tolerance_minor,
        date_tolerance=timedelta(hours=args.date_tolerance_hours),
        dry_run=args.dry_run,
    )
    return _findings(report)


def _findings(report: ReconciliationReport) -> Result:
    findings = [
        {
            "kind": f.kind.value,
            "subjects": list(f.subjects),
            "detail": f.detail,
            "currency": f.currency,
            "expected_minor": f.expected_minor,
            "actual_minor": f.actual_minor,
        }
        for f in report.findings
    ]
    data = {
        "tenant": report.tenant_id,
        "as_of": report.as_of,
        "checked": dict(report.checked),
        "discrepancies": len(findings),
        "by_kind": dict(Counter(f["kind"] for f in findings)),
        "recorded": list(report.recorded),
        "findings": findings,
    }
    table = Table(
        "discrepancies",
        ("kind", "subjects", "detail"),
        [(f.kind.value, " ".join(f.subjects), f.detail) for f in report.findings],
    )
    return Result(data, EXIT_FINDINGS if findings else EXIT_OK, (table,))


def seal(session: Session, args: argparse.Namespace) -> Result:
    """Chain the tenant's new journal transactions by hash."""
    tenant = session.tenant(args)
    return Result({"tenant": tenant, "sealed": session.app.seal_journal(tenant)})


def verify(session: Session, args: argparse.Namespace) -> Result:
    """Recompute the tenant's journal chain; exit 1 at the first broken link."""
    tenant = session.tenant(args)
    report = session.app.verify_journal(tenant, dry_run=args.dry_run)
    broken = report.broken_at
    data = {
        "tenant": tenant,
        "checked": report.checked,
        "intact": broken is None,
        "broken_at": None if broken is None else broken.seq,
        "reason": report.reason,
    }
    return Result(data, EXIT_OK if broken is None else EXIT_FINDINGS)


def expire_freezes(session: Session, args: argparse.Namespace) -> Result:
    """Give back every balance freeze past its expiry (all tenants)."""
    return Result({"as_of": session.now(), "expired": session.app.expire_freezes(session.now())})
