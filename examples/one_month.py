"""One month of a small marketplace: ingest, cycle closes, payouts, release through a bank.

Run: python examples/one_month.py [--seed N] [--url sqlite:///june.db] [--reports DIR]
Every day's payouts are grouped into release summaries, the channel is funded
with what the operations report says is missing, and the funded summaries are
released to a simulated bank that sometimes fails, loses answers or returns a
payment. Prints each shop's statements and payouts, and checks that every cent
booked is either pending, available (carried or given back) or in a live payout.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.channels import SimulatedBank
from settlement_adapters.operations_report import write_operations_report
from settlement_core.lifecycle import PayoutStatus, ReleaseSummaryStatus
from settlement_core.model import ApprovePayout, ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import format_amount, from_minor, money, to_minor
from settlement_core.rules import Cycle, PayoutRule, RuleEngine, SegmentRule
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock, StaticFxRates
from settlement_core.testing.invariants import RETURNED, everything

TENANT = "demo-market"
START = datetime(2025, 6, 1, tzinfo=UTC)
SHOPS = {
    "bakery": {"seller_type": "small"},
    "bikes": {"seller_type": "pro"},
    "books": {"seller_type": "small", "region": "EU"},
    "cameras": {"seller_type": "pro", "region": "EU"},
    "crafts": {"seller_type": "hobby"},
}


def rules() -> RuleEngine:
    """Weekly for pros, monthly in EUR for EU shops, daily with a threshold for the rest."""
    engine = RuleEngine(default_rule_id="daily-threshold")
    engine.define(
        PayoutRule(
            rule_id="daily-threshold",
            cycle=Cycle.daily(),
            payment_threshold=money("25.00", "USD"),
            delay_days=1,
        )
    )
    engine.define(PayoutRule(rule_id="weekly-pro", cycle=Cycle.weekly(anchor_weekday=0)))
    engine.define(
        PayoutRule(rule_id="monthly-eu", cycle=Cycle.monthly(anchor_day=1), payment_currency="EUR")
    )
    engine.define(PayoutRule(rule_id="manual", cycle=Cycle.weekly(), auto_payment=False))
    engine.add_segment(SegmentRule(rule_id="monthly-eu", priority=1, match={"region": "EU"}))
    engine.add_segment(SegmentRule(rule_id="weekly-pro", priority=2, match={"seller_type": "pro"}))
    engine.add_segment(SegmentRule(rule_id="manual", priority=3, match={"seller_type": "hobby"}))
    return engine


def main(seed: int, url: str, reports: Path | None) -> int:
    """Simulate June, then print statements and payouts."""
    rng = random.Random(seed)
    clock = ManualClock(START)
    fx = StaticFxRates({("USD", "EUR"): Decimal("0.92")})
    bank = SimulatedBank(
        name="default",
        secret=b"demo-callback-secret",
        clock=clock,
        seed=seed,
        latency=timedelta(minutes=30),
        failure_rate=0.1,
        permanent_failure_rate=0.03,
        timeout_rate=0.05,
        return_rate=0.02,
        duplicate_rate=0.1,
        reorder=True,
    )
    app = bootstrap(url, rules(), clock=clock, fx=fx, create=True, channels=[bank])
    for shop, attributes in SHOPS.items():
        app.get_or_create_account(
            OpenAccount(
                tenant_id=TENANT,
                shop_id=shop,
                attributes=attributes,
                time_zone="Europe/Berlin" if "region" in attributes else "UTC",
            )
        )
    orders = 0
    for day in range(30):
        clock.set(START + timedelta(days=day, hours=9))
        batch = []
        for n in range(rng.randint(5, 15)):
            shop = rng.choice(list(SHOPS))
            cents = rng.randint(300, 20_000)
            order_id = f"{day:02d}-{n:02d}"
            batch.append(_item(shop, order_id, "sale", cents, clock.now()))
            if rng.random() < 0.1:  # a partial refund of an earlier order
                batch.append(_item(shop, order_id, "refund", -cents // 3, clock.now()))
            orders += 1
        app.record_billing_items(batch)
        clock.set(START + timedelta(days=day + 1))
        app.close_cycles(clock.now())
        for payout_id in app.create_payouts(clock.now()).created:
            payout = app.get_payout(TENANT, payout_id)
            if payout.status is PayoutStatus.PENDING_APPROVAL:
                app.approve_payout(
                    ApprovePayout(tenant_id=TENANT, payout_id=payout_id, approved_by="ops")
                )
        _release(app, bank, clock)
    if reports is not None:
        files = write_operations_report(app.operations_report(TENANT), reports)
        print(f"operations report: {files.page_html}")
    _report(app, orders)
    return 0


def _release(app: Settlement, bank: SimulatedBank, clock: ManualClock) -> None:
    """Operations' morning: fund what is missing, release, then the bank's answers."""
    now = clock.now()
    app.prepare_release(now)
    for position in app.operations_report(TENANT).positions:
        if position.to_fund.amount > 0:
            reference = f"wire-{now:%Y%m%d}-{position.channel}-{position.currency}"
            app.record_funding(TENANT, position.channel, position.to_fund, reference)
    for summary in app.operations_report(TENANT).summaries:
        if summary.status is ReleaseSummaryStatus.FUNDED:
            app.release(TENANT, summary.id)
    for _ in range(3):  # callbacks, polls for lost answers, retries after backoff
        clock.advance(timedelta(hours=1))
        for body, headers in bank.deliver():
            app.handle_callback(bank.name, body, headers)
        app.poll_channels(clock.now())
        app.retry_failed_payouts(clock.now())


def _item(shop: str, order_id: str, kind: str, cents: int, at: datetime) -> RecordBillingItem:
    return RecordBillingItem(
        tenant_id=TENANT,
        shop_id=shop,
        key=f"{order_id}:{kind}",
        order_id=order_id,
        kind=ItemKind(kind),
        amount=from_minor(cents, "USD"),
        occurred_at=at,
    )


def _report(app: Settlement, orders: int) -> None:
    items, statements, payouts = everything(app, TENANT)
    print(f"{orders} orders, {len(items)} billing items, {len(statements)} statements\n")
    print(f"{'shop':<9} {'period':<15} {'status':<16} {'items':>5} {'total':>13} {'carried':>13}")
    for s in sorted(statements, key=lambda s: (_shop(app, s.account_id), s.period.start)):
        carried = s.carried_forward_minor or 0
        print(
            f"{_shop(app, s.account_id):<9} {s.period.start:%m-%d}..{s.period.end:%m-%d}   "
            f"{s.status.value:<16} {s.item_count:>5} {format_amount(s.total):>13} "
            f"{format_amount(from_minor(carried, s.currency)) if carried else '':>13}"
        )
    print(f"\n{'shop':<9} {'payout':<15} {'status':<17} {'statements':>10}  converted from")
    for payout in sorted(payouts, key=lambda p: (p.created_at, p.id)):
        sources = ", ".join(
            format_amount(from_minor(s.amount_minor, s.currency)) for s in payout.sources
        )
        print(
            f"{_shop(app, payout.account_id):<9} {format_amount(payout.amount):<15} "
            f"{payout.status.value:<17} {len(payout.statement_ids):>10}  {sources}"
        )
    states = Counter(p.status.value for p in payouts)
    print("\npayouts by state: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    booked = sum(i.amount_minor for i in items)
    # Failed, cancelled and returned payouts gave their money back to the balances.
    live = [p for p in payouts if p.status not in RETURNED]
    in_payouts = sum(s.amount_minor for p in live for s in p.sources)
    on_balances = 0
    for shop in SHOPS:
        account = app.find_account(TENANT, shop)
        assert account is not None
        balance = app.balance(TENANT, account.id)
        on_balances += sum(
            to_minor(m) for m in (*balance.pending.values(), *balance.available.values())
        )
    print(
        f"\nbooked {format_amount(from_minor(booked, 'USD'))} = in payouts "
        f"{format_amount(from_minor(in_payouts, 'USD'))} + on balances "
        f"{format_amount(from_minor(on_balances, 'USD'))}"
    )
    if booked != in_payouts + on_balances:
        raise SystemExit("money is not conserved")


def _shop(app: Settlement, account_id: str) -> str:
    return app.get_account(TENANT, account_id).shop_id


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", default="memory://", help="memory:// or a database URL")
    parser.add_argument("--reports", type=Path, help="write the operations report files here")
    options = parser.parse_args()
    raise SystemExit(main(options.seed, options.url, options.reports))
