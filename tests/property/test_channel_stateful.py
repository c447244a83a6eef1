"""Release through a faulty simulated bank under random commands (R-REL-4, R-PAY-7).

The bank loses answers, fails (retryable and for good), returns payments and
sends callbacks twice and out of order, as hypothesis decides. After every
step: no payout is paid twice by the bank, each key is executed at most once,
the money of every failed, cancelled or returned payout is back on the balance
exactly once, and items = pending + available + live payouts per account.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from settlement_adapters.bootstrap import bootstrap, in_memory
from settlement_adapters.channels import SimulatedBank
from settlement_core.errors import (
    CallbackRejected,
    InsufficientBalance,
    InvalidTransition,
)
from settlement_core.lifecycle import PayoutStatus, ReleaseSummaryStatus
from settlement_core.model import ApprovePayout, InstantPayout, OpenAccount, Payout
from settlement_core.money import from_minor
from settlement_core.ports import Clock, FxRates, Outcome, PaymentChannel, PayoutFilter
from settlement_core.rules import ChannelPolicy, RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import SequentialIds
from settlement_core.testing.invariants import assert_invariants
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


class ReleaseFlow(RuleBasedStateMachine):
    """Orders, jobs, funding, release, callbacks, polls, retries and faults, on memory."""

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

    def __init__(self) -> None:
        super().__init__()
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
        self.market.order(f"shop-{spec.shop}", amount, spec.currency, kind=spec.kind)

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
        assert self.app.record_funding(TENANT, "default", amount, reference).replayed

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
        before = self._balances()
        try:
            self.app.handle_callback("default", body, headers)
        except CallbackRejected:
            pass
        else:
            raise AssertionError("a replayed callback was accepted")
        assert self._balances() == before

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

    def _payouts(self) -> list[Payout]:
        return list(self.app.query_payouts(PayoutFilter(tenant_id=TENANT), limit=1000).items)

    def _balances(self) -> list[object]:
        return [self.app.balance(TENANT, a) for a in self.accounts]


TestReleaseFlow = ReleaseFlow.TestCase
TestReleaseFlow.settings = settings(
    max_examples=120,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class SqliteReleaseFlow(ReleaseFlow):
    """The same flow on a fresh SQLite file per example."""

    def build(
        self,
        rules: RuleEngine,
        clock: Clock,
        fx: FxRates,
        channels: list[PaymentChannel],
    ) -> Settlement:
        """A new SQLite database in a temporary folder."""
        folder = tempfile.mkdtemp(prefix="settlement-release-")
        return bootstrap(
            f"sqlite:///{folder}/release.db",
            rules,
            clock=clock,
            fx=fx,
            ids=SequentialIds(),
            channels=channels,
            channel_policy=POLICY,
            create=True,
        )


TestSqliteReleaseFlow = SqliteReleaseFlow.TestCase
TestSqliteReleaseFlow.settings = settings(
    max_examples=12,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
