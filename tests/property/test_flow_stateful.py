"""The whole periodic flow under random commands: money is conserved, replays are no-ops."""

from __future__ import annotations

import contextlib
import tempfile

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from settlement_adapters.bootstrap import bootstrap, in_memory
from settlement_adapters.testing import examples
from settlement_core.errors import IdempotencyConflict, InvalidTransition
from settlement_core.lifecycle import AWAITING_ANSWER, triggers
from settlement_core.model import ApprovePayout, ItemKind, OpenAccount, Payout, RecordBillingItem
from settlement_core.money import from_minor
from settlement_core.ports import Clock, FxRates, PayoutFilter
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, Marketplace
from settlement_core.testing.strategies import ItemSpec, item_specs, open_accounts

ACTIONS = {"approve", "submit", "retry", "settle", "fail", "give_up", "return"}
# Moves only a channel's answer makes (no answer, answer found again): not commands.
CHANNEL_ONLY = {"cancel", "lose_track", "confirm"}
RULES = ("daily", "weekly", "monthly", "threshold", "hold", "manual", "in-usd")


class PayoutFlow(RuleBasedStateMachine):
    """Random ingest, replays, time, jobs and payout outcomes on the memory adapter."""

    def build(self, rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        """The store under test: a fresh in-memory one."""
        return in_memory(rules, clock=clock, fx=fx)

    def __init__(self) -> None:
        super().__init__()
        self.market = Marketplace(self.build)
        self.sent: list[RecordBillingItem] = []
        self.accounts: list[str] = []

    @initialize(
        accounts=open_accounts(TENANT, RULES),
        first=st.lists(item_specs(), min_size=1, max_size=6),
    )
    def open_shops(self, accounts: list[OpenAccount], first: list[ItemSpec]) -> None:
        """Three shops with random rules and time zones, and their first orders."""
        self.accounts = [self.market.app.get_or_create_account(a).account.id for a in accounts]
        for spec in first:
            self.record(spec)

    @rule(spec=item_specs())
    def record(self, spec: ItemSpec) -> None:
        """A new sale or refund."""
        cmd = self.market.command(
            f"shop-{spec.shop}",
            str(from_minor(spec.minor, spec.currency).amount),
            spec.currency,
            kind=spec.kind,
        )
        self.market.app.record_billing_item(cmd)
        self.sent.append(cmd)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """Re-sending any earlier command changes nothing."""
        cmd = data.draw(st.sampled_from(self.sent))
        before = self._balances()
        receipt = self.market.app.record_billing_item(cmd)
        assert receipt.replayed
        assert self._balances() == before

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def conflicting_replay(self, data: st.DataObject) -> None:
        """Re-using a key for other content is refused and stores nothing."""
        cmd = data.draw(st.sampled_from(self.sent))
        other = self.market.command(cmd.shop_id, "0.01", "USD", key=cmd.key, kind=ItemKind.SALE)
        before = self._balances()
        try:
            self.market.app.record_billing_item(other)
        except IdempotencyConflict:
            pass
        else:
            raise AssertionError("a conflicting replay was accepted")
        assert self._balances() == before

    @rule(hours=st.integers(1, 24 * 12), close=st.booleans(), pay=st.booleans())
    def time_passes(self, hours: int, close: bool, pay: bool) -> None:
        """The clock moves on and the scheduler may run the jobs, each twice (a no-op)."""
        self.market.advance(hours=hours)
        now = self.market.clock.now()
        if close:
            self.market.app.close_cycles(now)
            assert self.market.app.close_cycles(now).closed == 0
        if pay:
            created = self.market.app.create_payouts(now).created
            event(f"payout run created {'some' if created else 'no'} payouts")
            assert self.market.app.create_payouts(now).created == ()

    @rule(data=st.data())
    def payout_moves_on(self, data: st.DataObject) -> None:
        """An operator or the channel moves a random payout by one legal step."""
        payouts = [p for p in self._payouts() if triggers(p.status) - CHANNEL_ONLY]
        event(f"payout step with {'some' if payouts else 'no'} live payouts")
        if not payouts:
            return
        payout = data.draw(st.sampled_from(payouts))
        trigger = data.draw(st.sampled_from(sorted(triggers(payout.status) - CHANNEL_ONLY)))
        event(f"payout step: {trigger}")
        self._apply(payout.id, trigger)

    @rule(data=st.data(), trigger=st.sampled_from(sorted(ACTIONS)))
    def operator_mistake(self, data: st.DataObject, trigger: str) -> None:
        """Any step on any payout: illegal ones are refused and change nothing."""
        payouts = self._payouts()
        if not payouts:
            return
        payout = data.draw(st.sampled_from(payouts))
        legal = set(triggers(payout.status))
        if payout.status in AWAITING_ANSWER:
            # A return reported before the payment's own notice means both happened.
            legal.add("return")
        if trigger in legal:
            self._apply(payout.id, trigger)
            return
        before = self._balances()
        with contextlib.suppress(InvalidTransition):
            self._apply(payout.id, trigger)
        assert self._balances() == before

    def _apply(self, payout_id: str, trigger: str) -> None:
        app = self.market.app
        if trigger == "approve":
            app.approve_payout(
                ApprovePayout(tenant_id=TENANT, payout_id=payout_id, approved_by="ops")
            )
        elif trigger in ("submit", "retry"):
            app.mark_payout_submitted(TENANT, payout_id)
        elif trigger == "settle":
            app.record_payout_paid(TENANT, payout_id)
        elif trigger == "return":
            app.record_payout_returned(TENANT, payout_id, "returned_by_bank")
        else:
            app.record_payout_failed(TENANT, payout_id, retryable=trigger == "fail")

    @rule(index=st.integers(0, 2), hold=st.booleans())
    def hold_or_release(self, index: int, hold: bool) -> None:
        """An operator holds or releases an account."""
        if hold:
            self.market.app.hold_account(TENANT, self.accounts[index])
        else:
            self.market.app.release_account_hold(TENANT, self.accounts[index])

    @invariant()
    def money_is_conserved(self) -> None:
        """Items = pending + available + live payouts, per account and currency."""
        assert_invariants(self.market)

    def _payouts(self) -> list[Payout]:
        page = self.market.app.query_payouts(PayoutFilter(tenant_id=TENANT), limit=1000)
        return list(page.items)

    def _balances(self) -> list[object]:
        return [self.market.app.balance(TENANT, a) for a in self.accounts]


TestPayoutFlow = PayoutFlow.TestCase
TestPayoutFlow.settings = settings(
    max_examples=examples(60),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class SqlitePayoutFlow(PayoutFlow):
    """The same flow on a fresh SQLite file per example."""

    def build(self, rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        """A new SQLite database in a temporary folder."""
        folder = tempfile.mkdtemp(prefix="settlement-flow-")
        return bootstrap(f"sqlite:///{folder}/flow.db", rules, clock=clock, fx=fx, create=True)


TestSqlitePayoutFlow = SqlitePayoutFlow.TestCase
TestSqlitePayoutFlow.settings = settings(
    max_examples=examples(15),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
