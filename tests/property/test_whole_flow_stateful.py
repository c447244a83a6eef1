"""The whole flow under random commands, through a faulty simulated bank (R-REL-4, R-PAY-7).

Accounts, sales and refunds, replays and conflicting replays of any earlier
item, holds, closes and payouts, approvals and cancellations, funding (and its
replays), release, callbacks (and replayed ones), polls, retries, instant
payouts and reconciliation, in the order hypothesis decides. The bank loses
answers, fails (retryable and for good), returns payments and sends callbacks
twice and out of order. After every step: items = pending + available + live
payouts per account and currency, the ledger balances, no payout is paid twice
by the bank and each key is executed at most once, every aggregate's state is
legal beside the others', and each replay left the store's rows as they were.
Runs on memory and SQLite (and PostgreSQL) in the normal test run; the long
profile (SETTLEMENT_TEST_PROFILE=long, `nox -s reliability`) runs ten times
the examples.

The host-driven variant (payouts moved by the host, no channel) is
test_flow_stateful.py.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import Engine

from settlement_adapters.bootstrap import bootstrap, in_memory
from settlement_adapters.channels import SimulatedBank
from settlement_adapters.snapshots import store_rows
from settlement_adapters.sqla.scratch import scratch_schema
from settlement_adapters.testing import empty_store, examples
from settlement_core.errors import (
    CallbackRejected,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
)
from settlement_core.lifecycle import (
    AWAITING_ANSWER,
    BillingItemStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    StatementStatus,
)
from settlement_core.model import (
    ApprovePayout,
    InstantPayout,
    OpenAccount,
    Payout,
    PayoutKind,
    RecordBillingItem,
)
from settlement_core.money import from_minor
from settlement_core.ports import Clock, FxRates, Outcome, PaymentChannel, PayoutFilter
from settlement_core.rules import ChannelPolicy, RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import SequentialIds
from settlement_core.testing.invariants import assert_invariants, everything
from settlement_core.testing.marketplace import TENANT, Marketplace
from settlement_core.testing.strategies import ItemSpec, item_specs, open_accounts

RULES = ("daily", "weekly", "threshold", "manual", "in-usd")
POLICY = ChannelPolicy(
    max_attempts=3,
    backoff=timedelta(minutes=15),
    backoff_cap=timedelta(hours=1),
    poll_after=timedelta(minutes=15),
    not_found_after=timedelta(hours=1),
)
rates = st.sampled_from([0.0, 0.3, 1.0])


class WholeFlow(RuleBasedStateMachine):
    """The whole flow, with faults at the bank, on memory."""

    def build(
        self,
        rules: RuleEngine,
        clock: Clock,
        fx: FxRates,
        channels: list[PaymentChannel],
    ) -> Settlement:
        """The store under test: a fresh in-memory one."""
        return in_memory(
            rules,
            clock=clock,
            fx=fx,
            ids=SequentialIds(),
            channels=channels,
            channel_policy=POLICY,
        )

    engine: Engine | None = None  # the SQL store, if any (None: memory)

    def __init__(self) -> None:
        super().__init__()
        self.stores = contextlib.ExitStack()
        self.bank: SimulatedBank | None = None

        def make(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
            # Seeded ids and nonces: hypothesis replays a run exactly, fates included.
            counter = itertools.count()
            self.bank = SimulatedBank(
                name="default",
                secret=b"k",
                clock=clock,
                latency=timedelta(minutes=30),
                seed=7,
                nonces=lambda: f"n{next(counter)}",
            )
            return self.build(rules, clock, fx, [self.bank])

        self.market = Marketplace(make)
        self.accounts: list[str] = []
        self.sent: list[RecordBillingItem] = []
        self.seen_callbacks: list[tuple[bytes, dict[str, str]]] = []
        self.fundings = 0

    @property
    def app(self) -> Settlement:
        """The service under test."""
        return self.market.app

    @property
    def channel(self) -> SimulatedBank:
        """The faulty bank."""
        assert self.bank is not None
        return self.bank

    @initialize(
        accounts=open_accounts(TENANT, RULES),
        failure=rates,
        permanent=rates,
        timeout=rates,
        returned=rates,
        duplicate=rates,
        lost=rates,
        reorder=st.booleans(),
        first=st.lists(item_specs(), min_size=1, max_size=6),
    )
    def open_shops(
        self,
        accounts: list[OpenAccount],
        failure: float,
        permanent: float,
        timeout: float,
        returned: float,
        duplicate: float,
        lost: float,
        reorder: bool,
        first: list[ItemSpec],
    ) -> None:
        """Three shops with their first orders, and a bank with faults of its own."""
        self.accounts = [self.app.get_or_create_account(a).account.id for a in accounts]
        bank = self.channel
        bank.failure_rate = failure
        bank.permanent_failure_rate = min(permanent, 1.0 - failure)
        bank.timeout_rate = timeout
        bank.return_rate = returned
        bank.duplicate_rate = duplicate
        bank.lost_request_share = lost
        bank.reorder = reorder
        for spec in first:
            self.record(spec)

    @rule(spec=item_specs())
    def record(self, spec: ItemSpec) -> None:
        """A new sale or refund."""
        amount = str(from_minor(spec.minor, spec.currency).amount)
        cmd = self.market.command(f"shop-{spec.shop}", amount, spec.currency, kind=spec.kind)
        self.app.record_billing_item(cmd)
        self.sent.append(cmd)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """Any earlier item sent again (at-least-once delivery): a no-op, row for row."""
        cmd = data.draw(st.sampled_from(self.sent))
        before = self._rows()
        assert self.app.record_billing_item(cmd).replayed
        assert self._rows() == before

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data(), minor=st.integers(1, 999))
    def conflicting_replay(self, data: st.DataObject, minor: int) -> None:
        """An earlier key with other content is refused, and nothing is stored."""
        cmd: RecordBillingItem = data.draw(st.sampled_from(self.sent))
        other = self.market.command(
            cmd.shop_id, str(from_minor(minor, "USD").amount), "USD", key=cmd.key
        )
        if other.fingerprint() == cmd.fingerprint():
            return
        before = self._rows()
        try:
            self.app.record_billing_item(other)
        except IdempotencyConflict:
            pass
        else:
            raise AssertionError("a conflicting replay was accepted")
        assert self._rows() == before

    @rule(index=st.integers(0, 2), hold=st.booleans())
    def hold_or_release(self, index: int, hold: bool) -> None:
        """An operator holds or releases an account."""
        if hold:
            self.app.hold_account(TENANT, self.accounts[index])
        else:
            self.app.release_account_hold(TENANT, self.accounts[index])

    @rule()
    def reconcile(self) -> None:
        """A full reconciliation finds nothing: every total, payout and balance adds up."""
        report = self.app.reconcile(
            TENANT, self.market.clock.now(), checks=("statements", "payouts", "ledger")
        )
        assert report.clean, report.findings

    @rule(minutes=st.sampled_from([20, 45, 90, 60 * 24, 60 * 24 * 3]))
    def time_passes(self, minutes: int) -> None:
        """The scheduler runs every job, each twice (the second a no-op)."""
        now = self.market.advance(minutes=minutes)
        self.app.close_cycles(now)
        self.app.create_payouts(now)
        self.app.prepare_release(now)
        assert self.app.prepare_release(now) == ()
        self.app.poll_channels(now)
        self.app.retry_failed_payouts(now)
        assert self.app.retry_failed_payouts(now).sent == 0

    @rule(spec=item_specs())
    def business_day(self, spec: ItemSpec) -> None:
        """A day: an order, the jobs, funding and release, then the bank's answers."""
        self.record(spec)
        self.time_passes(60 * 24)
        self.operations_fund_and_release()
        for _ in range(3):  # answers, polls and retries, a few rounds of them
            self.market.advance(minutes=40)
            self.callbacks_arrive(drop=False)
            self.time_passes(45)

    @rule(minor=st.integers(1, 50_000), currency=st.sampled_from(["USD", "EUR"]))
    def fund(self, minor: int, currency: str) -> None:
        """Operations send money to the channel; a replay of the same wire changes nothing."""
        self.fundings += 1
        reference = f"wire-{self.fundings}"
        amount = from_minor(minor, currency)
        self.app.record_funding(TENANT, "default", amount, reference)
        before = self._rows()
        assert self.app.record_funding(TENANT, "default", amount, reference).replayed
        assert self._rows() == before

    @rule()
    def operations_fund_and_release(self) -> None:
        """Operations send what the report says is missing, then release what is funded."""
        for position in self.app.operations_report(TENANT).positions:
            if position.to_fund.amount > 0:
                self.fundings += 1
                self.app.record_funding(
                    TENANT, "default", position.to_fund, f"wire-{self.fundings}"
                )
        self.release_funded()

    @rule()
    def release_funded(self) -> None:
        """Operations release every funded summary."""
        report = self.app.operations_report(TENANT)
        funded = [s for s in report.summaries if s.status is ReleaseSummaryStatus.FUNDED]
        event(f"release {'some' if funded else 'none'}")
        for summary in funded:
            self.app.release(TENANT, summary.id)

    @rule(drop=st.booleans())
    def callbacks_arrive(self, drop: bool) -> None:
        """Due callbacks reach the endpoint (or are lost on the way, when `drop`)."""
        for body, headers in self.channel.deliver():
            if drop:
                continue
            self.seen_callbacks.append((body, headers))
            with contextlib.suppress(CallbackRejected):
                self.app.handle_callback("default", body, headers)

    @precondition(lambda self: bool(self.seen_callbacks))
    @rule(data=st.data())
    def callback_replayed(self, data: st.DataObject) -> None:
        """An old callback sent again is refused (replayed or stale) and changes nothing."""
        body, headers = data.draw(st.sampled_from(self.seen_callbacks))
        before = self._rows()
        try:
            self.app.handle_callback("default", body, headers)
        except CallbackRejected:
            pass
        else:
            raise AssertionError("a replayed callback was accepted")
        assert self._rows() == before

    @rule(outage=st.booleans())
    def bank_outage(self, outage: bool) -> None:
        """The bank goes down or comes back."""
        self.channel.outage = outage

    @rule(data=st.data())
    def operator_acts(self, data: st.DataObject) -> None:
        """An operator approves or cancels a payout; illegal ones are refused."""
        payouts = self._payouts()
        if not payouts:
            return
        payout = data.draw(st.sampled_from(payouts))
        before = self._balances()
        if data.draw(st.booleans()):
            with contextlib.suppress(InvalidTransition):
                self.app.approve_payout(
                    ApprovePayout(tenant_id=TENANT, payout_id=payout.id, approved_by="ops")
                )
            return
        try:
            self.app.cancel_payout(TENANT, payout.id, "ops")
        except InvalidTransition:
            assert self._balances() == before

    @rule(index=st.integers(0, 2), minor=st.integers(1, 5_000), key=st.integers(0, 5))
    def instant(self, index: int, minor: int, key: int) -> None:
        """An instant payout; refused when the balance or the channel cannot cover it."""
        cmd = InstantPayout(
            tenant_id=TENANT,
            account_id=self.accounts[index],
            amount=from_minor(minor, "USD"),
            key=f"instant-{index}-{key}-{minor}",
        )
        before = self._balances()
        try:
            self.app.instant_payout(cmd)
        except (InsufficientBalance, InvalidTransition):
            assert self._balances() == before

    @invariant()
    def money_is_conserved(self) -> None:
        """Items = pending + available + live payouts; each payout's money moved once."""
        assert_invariants(self.market)

    @invariant()
    def note_coverage(self) -> None:
        """Record which payout states the run reached (see --hypothesis-show-statistics)."""
        for status in {p.status for p in self._payouts()}:
            event(f"payout {status.value}")

    @invariant()
    def nothing_is_paid_twice(self) -> None:
        """The bank executed each key once at most and paid each payout once at most."""
        rows = self.channel.report_rows()
        assert all(self.channel.times_executed(r.idempotency_key) == 1 for r in rows)
        paid = Counter(r.payout_id for r in rows if r.status in (Outcome.PAID, Outcome.RETURNED))
        assert all(count == 1 for count in paid.values()), paid
        for payout in self._payouts():
            if payout.status is PayoutStatus.PAID:
                assert paid[payout.id] == 1, payout

    @invariant()
    def every_state_is_legal(self) -> None:
        """Each aggregate's state agrees with the others' (checked through the public API)."""
        items, statements, payouts = everything(self.app)
        statement_of = {s.id: s for s in statements}
        payout_of = {p.id: p for p in payouts}
        for item in items:
            open_ = statement_of[item.statement_id].status is StatementStatus.OPEN
            assert (item.status is BillingItemStatus.PENDING) == open_, item
        for statement in statements:
            if statement.status is StatementStatus.PAID_OUT:
                assert statement.payout_id is not None, statement
                assert statement.id in payout_of[statement.payout_id].statement_ids, statement
            if statement.status is not StatementStatus.OPEN:
                assert statement.recount_minor == statement.total_minor, statement
        for payout in payouts:
            if payout.status in AWAITING_ANSWER or payout.status is PayoutStatus.PAID:
                assert payout.attempts >= 1 and payout.submitted_at is not None, payout
            if payout.funded and payout.kind is PayoutKind.SCHEDULED:
                assert payout.release_id is not None, payout
            if payout.status is PayoutStatus.PENDING_APPROVAL:
                assert payout.approved_by is None, payout

    def _payouts(self) -> list[Payout]:
        return list(self.app.query_payouts(PayoutFilter(tenant_id=TENANT), limit=1000).items)

    def _rows(self) -> object:
        return store_rows(self.app, self.engine)

    def _balances(self) -> list[object]:
        return [self.app.balance(TENANT, a) for a in self.accounts]


def _runs(short: int, steps: int) -> settings:
    """`short` examples of `steps` steps (ten times the examples in the long profile)."""
    return settings(
        max_examples=examples(short),
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


TestWholeFlow = WholeFlow.TestCase
TestWholeFlow.settings = _runs(120, steps=40)


class SqlWholeFlow(WholeFlow):
    """The same flow on a SQL store made for each example (`store` says how)."""

    def store(self) -> Engine:
        """A new empty SQL store, dropped at teardown."""
        raise NotImplementedError

    def build(
        self,
        rules: RuleEngine,
        clock: Clock,
        fx: FxRates,
        channels: list[PaymentChannel],
    ) -> Settlement:
        """The store's service, with seeded ids and the bank."""
        self.engine = self.store()
        return bootstrap(
            self.engine,
            rules,
            clock=clock,
            fx=fx,
            ids=SequentialIds(),
            channels=channels,
            channel_policy=POLICY,
        )

    def teardown(self) -> None:
        """Drop the store."""
        self.stores.close()


class SqliteWholeFlow(SqlWholeFlow):
    """The same flow on a fresh SQLite file per example."""

    def store(self) -> Engine:
        """A new SQLite database in a temporary folder."""
        folder = Path(tempfile.mkdtemp(prefix="settlement-flow-"))
        return self.stores.enter_context(empty_store("sqlite", folder))  # type: ignore[return-value]


TestSqliteWholeFlow = SqliteWholeFlow.TestCase
TestSqliteWholeFlow.settings = _runs(12, steps=30)


class PostgresWholeFlow(SqlWholeFlow):
    """The same flow on a PostgreSQL scratch schema per example."""

    def store(self) -> Engine:
        """A new schema on the test server."""
        return self.stores.enter_context(scratch_schema("postgresql")).engine


TestPostgresWholeFlow = PostgresWholeFlow.TestCase
TestPostgresWholeFlow.settings = _runs(4, steps=25)
