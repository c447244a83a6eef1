"""The demo's closing summary, read back from the database, and the one check that matters.

Every cent booked is either in a live payout (paid, or on its way) or still on
a seller's balance (pending, carried forward, or given back by a failed or
returned payout). The summary counts both sides per currency from storage.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from attrs import frozen
from rich.console import Console
from rich.table import Table

from settlement_core import PayoutFilter, PayoutStatus, StatementFilter, from_minor, to_minor
from settlement_core.money import format_amount
from settlement_core.ports import paged
from settlement_core.services.settlement import Settlement

# Their money went back to the balance: they no longer hold any.
GAVE_BACK = frozenset({PayoutStatus.FAILED_NO_RETRY, PayoutStatus.CANCELLED, PayoutStatus.RETURNED})
IN_FLIGHT = frozenset(
    {
        PayoutStatus.PENDING_APPROVAL,
        PayoutStatus.CREATED,
        PayoutStatus.ONGOING,
        PayoutStatus.UNKNOWN,
        PayoutStatus.FAILED,
    }
)


@frozen
class Outcome:
    """What the run itself observed."""

    recorded: int
    replayed: int
    findings: int
    chain_links: int
    chain_holds: bool
    seconds: float


@frozen
class Summary:
    """Per currency, in minor units, from storage."""

    outcome: Outcome
    sellers: int
    items: int
    statements: Counter[str]
    booked: dict[str, int]
    paid: dict[str, tuple[int, int]]  # currency -> (payouts, minor units)
    in_flight: dict[str, tuple[int, int]]
    gave_back: Counter[str]  # payout status -> count
    retried: int
    on_balances: dict[str, int]
    held: dict[str, int]
    in_live_payouts: dict[str, int]  # by source currency

    @property
    def balanced(self) -> bool:
        """booked = in live payouts + on balances, in every currency."""
        currencies = set(self.booked) | set(self.in_live_payouts) | set(self.on_balances)
        return all(
            self.booked.get(c, 0) == self.in_live_payouts.get(c, 0) + self.on_balances.get(c, 0)
            for c in currencies
        )


def summarize(app: Settlement, tenant: str, shops: Iterable[str], outcome: Outcome) -> Summary:
    """Count everything the tenant holds."""
    booked: defaultdict[str, int] = defaultdict(int)
    statements: Counter[str] = Counter()
    items = 0
    for s in paged(lambda c: app.query_statements(StatementFilter(tenant_id=tenant), c, 1000)):
        booked[s.currency] += s.total_minor
        items += s.item_count
        statements[s.status.value] += 1
    paid: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    in_flight: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    live: defaultdict[str, int] = defaultdict(int)
    gave_back: Counter[str] = Counter()
    retried = 0
    for p in paged(lambda c: app.query_payouts(PayoutFilter(tenant_id=tenant), c, 1000)):
        retried += p.attempts > 1
        if p.status in GAVE_BACK:
            gave_back[p.status.value] += 1
            continue
        for source in p.sources:
            live[source.currency] += source.amount_minor
        bucket = paid if p.status is PayoutStatus.PAID else in_flight
        bucket[p.currency][0] += 1
        bucket[p.currency][1] += p.amount_minor
    on_balances: defaultdict[str, int] = defaultdict(int)
    held: defaultdict[str, int] = defaultdict(int)
    sellers = 0
    for shop in shops:
        account = app.find_account(tenant, shop)
        if account is None:
            continue
        sellers += 1
        balance = app.balance(tenant, account.id)
        for m in (*balance.pending.values(), *balance.available.values(), *balance.frozen.values()):
            on_balances[m.currency.code] += to_minor(m)
            if account.attributes.get("review") == "open":
                held[m.currency.code] += to_minor(m)
    return Summary(
        outcome=outcome,
        sellers=sellers,
        items=items,
        statements=statements,
        booked=dict(booked),
        paid={c: (n, m) for c, (n, m) in paid.items()},
        in_flight={c: (n, m) for c, (n, m) in in_flight.items()},
        gave_back=gave_back,
        retried=retried,
        on_balances=dict(on_balances),
        held=dict(held),
        in_live_payouts=dict(live),
    )


def print_summary(console: Console, s: Summary) -> None:
    """One table a person reads in ten seconds; its last row is the verdict."""
    currencies = sorted(set(s.booked) | set(s.paid) | set(s.on_balances))
    table = Table(title="settlement demo: summary", show_lines=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for c in currencies:
        table.add_column(c, justify="right")

    def money_cells(values: dict[str, int]) -> list[str]:
        return [_fmt(values.get(c, 0), c) for c in currencies]

    o = s.outcome
    table.add_row("sellers", str(s.sellers), *[""] * len(currencies))
    table.add_row("billing items ingested", str(s.items), *money_cells(s.booked))
    table.add_row("  replayed in this run", str(o.replayed), *[""] * len(currencies))
    table.add_row(
        "statements closed/carried/paid/open",
        ", ".join(
            str(s.statements.get(k, 0)) for k in ("closed", "carried_forward", "paid_out", "open")
        ),
        *[""] * len(currencies),
    )
    table.add_row(
        "payouts paid",
        str(sum(n for n, _ in s.paid.values())),
        *money_cells({c: m for c, (_, m) in s.paid.items()}),
    )
    table.add_row(
        "payouts in flight",
        str(sum(n for n, _ in s.in_flight.values())),
        *money_cells({c: m for c, (_, m) in s.in_flight.items()}),
    )
    table.add_row("payouts retried", str(s.retried), *[""] * len(currencies))
    table.add_row(
        "failed for good / returned",
        f"{s.gave_back.get('failed_no_retry', 0)} / {s.gave_back.get('returned', 0)}",
        *[""] * len(currencies),
    )
    table.add_row("carried on balances", "", *money_cells(s.on_balances))
    table.add_row("  of which held sellers", "", *money_cells(s.held))
    table.add_row("discrepancies", str(o.findings), *[""] * len(currencies))
    chain = f"{o.chain_links} links, {'intact' if o.chain_holds else 'BROKEN'}"
    table.add_row("journal hash chain", chain, *[""] * len(currencies))
    verdict = "every cent accounted for" if s.balanced else "MONEY UNACCOUNTED FOR"
    table.add_row("booked = payouts + balances", verdict, *money_cells(s.booked))
    console.print(table)
    console.print(f"{o.recorded} billing items sent, {o.seconds:.1f} s")


def _fmt(minor: int, currency: str) -> str:
    return format_amount(from_minor(minor, currency)).removesuffix(f" {currency}")
