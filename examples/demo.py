"""Two months of a marketplace on embedded SQLite, from orders to money in the bank.

Run: python examples/demo.py [--url sqlite:///demo.sqlite] [--sellers 300]
[--orders 30000] [--days 61] [--reports demo-reports] [--seed 7]

A few hundred sellers on the rules of examples/marketplace.toml (daily with a
threshold, weekly, monthly in EUR, weekly paid in EUR at a configured rate,
manual approval, held) sell tens of thousands of orders, some refunded days
later. Every simulated night the jobs run as a host's scheduler would run them:
close cycles, create payouts, approve the manual ones, group them for release,
fund the bank with what the operations report says is missing, release, and
take the bank's callbacks, poll for lost answers and retry failures. At the end
a full reconciliation, the journal's hash chain, the operations report files,
and a summary. Running it again on the same database changes nothing: every
write is idempotent, and the summary comes out the same.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta
from pathlib import Path

from demo_market import START, TENANT, orders_by_day, sellers
from demo_summary import Outcome, print_summary, summarize
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.channels import SimulatedBank
from settlement_adapters.config import load_config
from settlement_adapters.operations_report import write_operations_report
from settlement_core import ApprovePayout, PayoutFilter, PayoutStatus, ReleaseSummaryStatus
from settlement_core.ports import paged
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock

CONFIG = Path(__file__).resolve().with_name("marketplace.toml")
DRAIN_DAYS = 4  # nights after the last order, so late cycles are paid and answers arrive
ANSWER_ROUNDS = 4  # hours of callbacks, polls and retries after each night's release


def main(argv: list[str] | None = None) -> int:
    """Simulate, reconcile, report; exit 1 if a single cent is unaccounted for."""
    options = _parser().parse_args(argv)
    console = Console()
    config = load_config(CONFIG)
    clock = ManualClock(START)
    bank = config.build_channels(clock)[0]
    if not isinstance(bank, SimulatedBank):
        raise SystemExit(
            f"{CONFIG.name} must name a simulated bank: the demo delivers its callbacks"
        )
    app = bootstrap(
        options.url,
        config.rules,
        clock=clock,
        fx=config.fx,
        create=True,
        batch_size=config.batch_size,
        channels=[bank],
    )
    started = time.perf_counter()
    shops = sellers(options.sellers, options.seed)
    orders = list(orders_by_day(shops, options.orders, options.days, options.seed))
    recorded = replayed = 0
    with _progress(console) as progress:
        days = progress.add_task("simulated nights", total=options.days + DRAIN_DAYS)
        items = progress.add_task("billing items", total=sum(len(b) for _, b in orders))
        for seller in shops:
            app.get_or_create_account(seller.command)
        for day, batch in orders:
            clock.set(START + timedelta(days=day + 1))
            for at in range(0, len(batch), config.batch_size):
                receipts = app.record_billing_items(batch[at : at + config.batch_size])
                replayed += sum(r.replayed for r in receipts)
                recorded += len(receipts)
                progress.update(items, advance=len(receipts))
            _night(app, bank, clock)
            progress.update(days, advance=1)
        for _ in range(DRAIN_DAYS):
            clock.advance(timedelta(days=1))
            _night(app, bank, clock)
            progress.update(days, advance=1)
    as_of = clock.now()
    with console.status("reconciling and sealing the journal"):
        reconciliation = app.reconcile(TENANT, as_of)
        app.seal_journal(TENANT)
        chain = app.verify_journal(TENANT)
    files = write_operations_report(app.operations_report(TENANT), options.reports)
    outcome = Outcome(
        recorded=recorded,
        replayed=replayed,
        findings=len(reconciliation.findings),
        chain_links=chain.checked,
        chain_holds=chain.broken_at is None,
        seconds=time.perf_counter() - started,
    )
    summary = summarize(app, TENANT, [s.shop_id for s in shops], outcome)
    print_summary(console, summary)
    console.print(f"operations report: {files.page_html}")
    console.print(f"  and {files.positions_csv.name}, {files.summaries_csv.name}")
    return 0 if summary.balanced and outcome.findings == 0 and outcome.chain_holds else 1


def _night(app: Settlement, bank: SimulatedBank, clock: ManualClock) -> None:
    """The jobs a host's scheduler runs each night, in order."""
    now = clock.now()
    app.close_cycles(now)
    app.create_payouts(now)
    _approve_manual(app)
    app.prepare_release(now)
    _fund_and_release(app, now)
    for _ in range(ANSWER_ROUNDS):
        clock.advance(timedelta(hours=1))
        for body, headers in bank.deliver():
            app.handle_callback(bank.name, body, headers)
        app.poll_channels(clock.now())
        app.retry_failed_payouts(clock.now())


def _approve_manual(app: Settlement) -> None:
    """An operator approves every payout waiting for approval (R-PAY-3)."""
    waiting = PayoutFilter(tenant_id=TENANT, status=PayoutStatus.PENDING_APPROVAL)
    for payout in list(paged(lambda c: app.query_payouts(waiting, c, 500))):
        app.approve_payout(ApprovePayout(tenant_id=TENANT, payout_id=payout.id, approved_by="ops"))


def _fund_and_release(app: Settlement, now: datetime) -> None:
    """Operations wire what the report says is missing, then release what is funded."""
    for position in app.operations_report(TENANT).positions:
        if position.to_fund.amount > 0:
            reference = f"wire-{now:%Y%m%d}-{position.channel}-{position.currency}"
            app.record_funding(TENANT, position.channel, position.to_fund, reference)
    for summary in app.operations_report(TENANT).summaries:
        if summary.status is ReleaseSummaryStatus.FUNDED:
            app.release(TENANT, summary.id)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="sqlite:///demo.sqlite", help="database URL")
    parser.add_argument("--sellers", type=int, default=300)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=61, help="days with orders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reports", type=Path, default=Path("demo-reports"))
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
