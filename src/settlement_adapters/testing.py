"""Test kit for adapters and hosts: a marketplace whose payouts go through simulated banks.

Pure standard library plus the library itself (no pytest), like
`settlement_core.testing`, which it builds on.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from settlement_adapters.bootstrap import bootstrap, in_memory
from settlement_adapters.channels import SimulatedBank
from settlement_adapters.memory import MemoryDatabase
from settlement_core.ledger import Entry
from settlement_core.lifecycle import PayoutStatus, ReleaseSummaryStatus
from settlement_core.model import OpenAccount, Payout
from settlement_core.ports import Clock, FxRates, Metrics, Outcome, PaymentChannel
from settlement_core.rules import ChannelPolicy, RuleEngine
from settlement_core.services.answers import CallbackReceipt
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT, ChannelBuild, Marketplace

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table


# SETTLEMENT_TEST_PROFILE=long (nox -s reliability) runs the long versions of the
# reliability suites; the normal test run keeps them short.
LONG_PROFILE = os.environ.get("SETTLEMENT_TEST_PROFILE", "short") == "long"
LONG_FACTOR = 10


def examples(short: int) -> int:
    """How many hypothesis examples a suite runs: `short`, or ten times that when long."""
    return short * LONG_FACTOR if LONG_PROFILE else short


def workers(short: tuple[int, ...], long: tuple[int, ...]) -> tuple[int, ...]:
    """The worker counts a concurrency suite tries under the current profile."""
    return long if LONG_PROFILE else short


@contextlib.contextmanager
def empty_store(backend: str, folder: Path, tables: bool = True) -> Iterator[Engine | None]:
    """An empty store of one backend, dropped on exit (None for the memory adapter).

    SQLite is a file in `folder`; PostgreSQL a scratch schema and MariaDB
    (`mysql`) a scratch database. With `tables=False` it holds no table yet
    (for migrations).
    """
    if backend == "memory":
        yield None
        return
    from settlement_adapters.sqla import create_schema, make_engine
    from settlement_adapters.sqla.scratch import scratch_schema

    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'settlement.db'}")
        if tables:
            create_schema(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with scratch_schema(backend, tables=tables) as scratch:
        yield scratch.engine


@contextlib.contextmanager
def captured_sql(engine: Engine, keep: Callable[[str], bool]) -> Iterator[list[tuple[str, Any]]]:
    """The SQL (and parameters) the engine runs meanwhile that `keep` keeps."""
    from sqlalchemy import event

    queries: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
        if keep(sql):
            queries.append((sql, params))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield queries
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def store_build(engine: Engine | None, batch_size: int = 500) -> ChannelBuild:
    """A build over one store: the memory adapter (None) or a SQL engine, with every port.

    `batch_size` is the jobs' batch (small ones make a job commit many times).
    """

    def build(
        rules: RuleEngine,
        clock: Clock,
        fx: FxRates,
        channels: Sequence[PaymentChannel] = (),
        channel_policy: ChannelPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> Settlement:
        if engine is None:
            return in_memory(
                rules,
                clock=clock,
                fx=fx,
                channels=channels,
                channel_policy=channel_policy,
                metrics=metrics,
                batch_size=batch_size,
            )
        return bootstrap(
            engine,
            rules,
            clock=clock,
            fx=fx,
            channels=channels,
            channel_policy=channel_policy,
            metrics=metrics,
            batch_size=batch_size,
        )

    return build


# How long the simulated banks take, and the retry and polling timings scenarios use.
LATENCY = timedelta(minutes=30)
POLICY = ChannelPolicy(
    max_attempts=3,
    backoff=timedelta(minutes=15),
    backoff_cap=timedelta(hours=2),
    poll_after=timedelta(minutes=15),
    not_found_after=timedelta(hours=1),
)


def secret(channel: str) -> bytes:
    """Each bank signs with its own key."""
    return f"secret-of-{channel}".encode()


def fund_and_release(app: Settlement, tenant_id: str, as_of: datetime, wire: str) -> None:
    """Operations' round: prepare summaries, fund what is missing, release what is funded.

    Each funding's bank reference is `{wire}-{channel}-{currency}`, so a round
    run again with the same `wire` replays its fundings instead of adding more.
    """
    app.prepare_release(as_of)
    fund_missing(app, tenant_id, wire)
    release_funded(app, tenant_id)


def fund_missing(app: Settlement, tenant_id: str, wire: str) -> None:
    """Wire to each channel what the operations report says is missing (`{wire}-...` refs)."""
    for position in app.operations_report(tenant_id).positions:
        if position.to_fund.amount > 0:
            reference = f"{wire}-{position.channel}-{position.currency}"
            app.record_funding(tenant_id, position.channel, position.to_fund, reference)


def release_funded(app: Settlement, tenant_id: str) -> int:
    """Release every funded summary of the tenant; how many payouts they hold."""
    released = 0
    for summary in app.operations_report(tenant_id).summaries:
        if summary.status is ReleaseSummaryStatus.FUNDED:
            app.release(tenant_id, summary.id)
            released += len(summary.payout_ids)
    return released


class ChannelMarket(Marketplace):
    """A marketplace whose payouts go through simulated banks `bank-a` and `bank-b`."""

    def __init__(self, build: ChannelBuild, metrics: Metrics | None = None, **faults: Any) -> None:
        self.banks: dict[str, SimulatedBank] = {}

        def make(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
            for name in ("bank-a", "bank-b"):
                self.banks[name] = SimulatedBank(
                    name=name, secret=secret(name), clock=clock, latency=LATENCY, **faults
                )
            channels = list(self.banks.values())
            return build(
                rules, clock, fx, channels=channels, channel_policy=POLICY, metrics=metrics
            )

        super().__init__(make)

    @property
    def bank(self) -> SimulatedBank:
        """The channel most scenarios use."""
        return self.banks["bank-a"]

    def seller(self, shop_id: str, channel: str = "bank-a", rule: str | None = None) -> str:
        """Open a shop paid through `channel`."""
        cmd = OpenAccount(
            tenant_id=TENANT, shop_id=shop_id, payout_channel=channel, rule_override=rule
        )
        return self.app.get_or_create_account(cmd).account.id

    def payouts_due(self, amounts: dict[str, str], currency: str = "USD") -> list[Payout]:
        """Sellers with one sale each, a day later: their payouts, created."""
        for shop_id, amount in amounts.items():
            self.seller(shop_id)
            self.order(shop_id, amount, currency)
        self.advance(days=1)
        _, created = self.run_jobs()
        return [self.app.get_payout(TENANT, p) for p in created]

    def released(self, amounts: dict[str, str]) -> list[Payout]:
        """Payouts prepared, fully funded and released through bank-a."""
        payouts = self.payouts_due(amounts)
        [summary_id] = self.app.prepare_release(self.clock.now())
        total = self.app.get_release(TENANT, summary_id).total
        self.app.record_funding(TENANT, "bank-a", total, "wire-1")
        self.app.release(TENANT, summary_id)
        return [self.app.get_payout(TENANT, p.id) for p in payouts]

    def deliver(self) -> list[CallbackReceipt]:
        """Every callback each bank has due now, handled as the host's endpoint would."""
        receipts = []
        for name, bank in self.banks.items():
            for body, headers in bank.deliver():
                receipts.append(self.app.handle_callback(name, body, headers))
        return receipts

    def status(self, payout: Payout) -> PayoutStatus:
        """The payout's status now."""
        return self.app.get_payout(TENANT, payout.id).status

    def available(self, account_id: str, currency: str = "USD") -> int:
        """An account's available balance in minor units."""
        found = self.app.balance(TENANT, account_id).available.get(currency)
        return 0 if found is None else int(found.amount * 100)

    def ledger_balance(self, account: str, currency: str = "USD") -> int:
        """A ledger account's balance."""
        with self.app.context.uow() as uow:
            return uow.ledger.balance(account, currency)

    def paid_at_bank(self) -> Counter[str]:
        """How many executions each payout had that the bank paid (or paid and returned)."""
        paid = (Outcome.PAID, Outcome.RETURNED)
        return Counter(
            row.payout_id
            for bank in self.banks.values()
            for row in bank.report_rows()
            if row.status in paid
        )


class Tamper:
    """Changes one backend's stored rows behind the library's back, as a bug or an edit would.

    For tests of reconciliation and of the journal chain: `engine` is the SQL
    store (None for the memory adapter, reached through the app's unit of work).
    """

    def __init__(self, app: Settlement, engine: Engine | None) -> None:
        self.app = app
        self.engine = engine

    @property
    def db(self) -> MemoryDatabase:
        """The memory adapter's database."""
        uow: Any = self.app.context.uow()
        database: MemoryDatabase = uow.db
        return database

    def _add(self, table: Table, column: str, delta: int, *where: Any) -> None:
        # Core statements, so a scratch schema's translate map applies.
        from sqlalchemy import update

        assert self.engine is not None
        stmt = update(table).where(*where).values({column: table.c[column] + delta})
        with self.engine.begin() as conn:
            assert conn.execute(stmt).rowcount == 1

    def add_to_statement_total(self, statement_id: str, delta: int) -> None:
        """The running total drifts from its items."""
        if self.engine is None:
            statements = self.db.statements  # rows: the changed copy is written back
            with self.db.lock:
                statement = statements[statement_id]
                statement.total_minor += delta
                statements.put(statement)
        else:
            from settlement_adapters.sqla import tables

            s = tables.statements
            self._add(s, "total_minor", delta, s.c.id == statement_id)

    def add_to_payout_amount(self, payout_id: str, delta: int) -> None:
        """The payout's amount drifts from its sources and posting."""
        if self.engine is None:
            payout = self.db.payouts[payout_id]
            payout.amount_minor += delta
            self.db.payouts.put(payout)
        else:
            from settlement_adapters.sqla import tables

            p = tables.payouts
            self._add(p, "amount_minor", delta, p.c.id == payout_id)

    def add_to_collected(self, collection_id: str, delta: int) -> None:
        """A collection says more (or less) was paid in than its receivable shows."""
        if self.engine is None:
            self.db.collections[collection_id].collected_minor += delta
        else:
            from settlement_adapters.sqla import tables

            c = tables.collections
            self._add(c, "collected_minor", delta, c.c.id == collection_id)

    def add_to_balance(self, account: str, currency: str, delta: int) -> None:
        """A cached balance drifts from its entries."""
        if self.engine is None:
            self.db.fold_balances({(account, currency): delta}, {account: (currency,)})
        else:
            from sqlalchemy import insert, update

            from settlement_adapters.sqla import tables

            assert self.engine is not None
            b = tables.ledger_balances
            where = (b.c.account == account, b.c.currency == currency)
            bump = update(b).where(*where).values(balance_minor=b.c.balance_minor + delta)
            with self.engine.begin() as conn:
                # A balance that nets to zero within one transaction may have no row yet.
                if conn.execute(bump).rowcount == 0:
                    row = {"account": account, "currency": currency, "balance_minor": delta}
                    conn.execute(insert(b).values(row))

    def add_to_first_leg(self, transaction_id: str, delta: int) -> None:
        """One leg of a posted transaction changes (and its cached balance with it)."""
        if self.engine is None:
            tx = self.db.transaction_by_id[transaction_id]
            first, *rest = tx.entries
            changed = Entry(first.account, first.currency, first.amount_minor + delta)
            object.__setattr__(tx, "entries", (changed, *rest))
            self.db.fold_balances({(first.account, first.currency): delta}, {})
            return
        from sqlalchemy import select

        from settlement_adapters.sqla import tables

        assert self.engine is not None
        e = tables.journal_entries
        with self.engine.connect() as conn:
            row = conn.execute(
                select(e).where(e.c.transaction_id == transaction_id).order_by(e.c.id)
            ).first()
        assert row is not None
        self._add(e, "amount_minor", delta, e.c.id == row.id)
        self.add_to_balance(row.account, row.currency, delta)

    def add_to_seal_hash(self, tenant_id: str, seq: int) -> None:
        """Rewrite one link's hash (as someone covering their tracks would)."""
        forged = "f" * 64
        if self.engine is None:
            chain = self.db.seals_by_tenant[tenant_id]
            old = chain[seq - 1]
            new = attrs.evolve(old, hash=forged)
            chain[seq - 1] = new
            self.db.seals[old.transaction_id] = new
            return
        from sqlalchemy import update

        from settlement_adapters.sqla import tables

        k = tables.journal_seals
        stmt = update(k).where(k.c.tenant_id == tenant_id, k.c.seq == seq).values(hash=forged)
        with self.engine.begin() as conn:
            assert conn.execute(stmt).rowcount == 1
