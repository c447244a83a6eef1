"""Freezes never let an available balance go negative, and money moves once (R-LED-2)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from settlement_adapters.bootstrap import in_memory
from settlement_core.errors import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
    NotFound,
)
from settlement_core.money import from_minor, to_minor
from settlement_core.testing.fakes import SequentialIds
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT, Marketplace

REFERENCES = [f"r{n}" for n in range(6)]


class FreezeFlow(RuleBasedStateMachine):
    """Sales, payouts, freezes, confirms, cancels, replays and expiries, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.market = Marketplace(
            lambda rules, clock, fx: in_memory(rules, clock=clock, fx=fx, ids=SequentialIds())
        )
        self.account = ""

    @initialize()
    def open_shop(self) -> None:
        """One seller whose balance stays available below the threshold."""
        self.account = self.market.shop("s1", rule="threshold")

    @rule(minor=st.integers(100, 4_000))
    def sale_and_a_day(self, minor: int) -> None:
        """A sale, then a day of jobs: carried below the threshold, paid above it."""
        self.market.order("s1", str(from_minor(minor, "USD").amount))
        self.market.advance(days=1)
        self.market.run_jobs()

    @rule(minor=st.integers(1, 6_000), reference=st.sampled_from(REFERENCES))
    def freeze(self, minor: int, reference: str) -> None:
        """Freeze some amount: refused beyond the balance, a replay returns the first."""
        before = self._available()
        try:
            self.market.app.freeze(
                TENANT,
                self.account,
                from_minor(minor, "USD"),
                reference,
                expires_at=self.market.clock.now() + timedelta(hours=6),
            )
        except InsufficientBalance:
            assert before < minor and self._available() == before
        except IdempotencyConflict:
            assert self._available() == before  # the reference holds another amount

    @rule(reference=st.sampled_from(REFERENCES), confirm=st.booleans())
    def finish(self, reference: str, confirm: bool) -> None:
        """Confirm or cancel (possibly again, or after the other): money moves once."""
        with contextlib.suppress(InvalidTransition, NotFound):
            if confirm:
                self.market.app.confirm_freeze(TENANT, reference)
            else:
                self.market.app.cancel_freeze(TENANT, reference)

    @rule(hours=st.sampled_from([1, 7]))
    def time_and_expiry(self, hours: int) -> None:
        """Time passes; the expiry job gives back forgotten freezes."""
        self.market.advance(hours=hours)
        self.market.app.expire_freezes(self.market.clock.now())

    @invariant()
    def available_is_never_negative(self) -> None:
        """The available balance never drops below zero; money in = money out."""
        assert self._available() >= 0
        assert_invariants(self.market)

    def _available(self) -> int:
        found = self.market.app.balance(TENANT, self.account).available.get("USD")
        return 0 if found is None else to_minor(found)


TestFreezeFlow = FreezeFlow.TestCase
TestFreezeFlow.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
