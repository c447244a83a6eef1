"""Crashes inside units of work and between a job's batches: a restart and a re-run converge.

One scripted month (accounts, a batch and single items, a replay, a refund,
closes and payouts in batches of two, an approval, funding, release through a
paying bank and a bank that loses every answer, callbacks, polls, retries,
reconciliation) runs once without faults; then, per example, on a fresh store
with hypothesis choosing one or two fault points (`settlement_adapters.faults`)
and which occurrence of each crashes. After each crash the service is built
anew on the same store (the process restarted) and the step is run again.
The end state, with generated ids replaced by business identities, must equal
the fault-free run's: items, statements, payouts, every posting and balance.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from settlement_adapters.faults import (
    SQL_POINTS,
    UOW_POINTS,
    FaultPlan,
    InjectedFault,
    sql_faults,
    with_faults,
)
from settlement_adapters.snapshots import business_state
from settlement_adapters.testing import (
    ChannelMarket,
    empty_store,
    examples,
    fund_and_release,
    store_build,
)
from settlement_core.errors import ReplayedCallback
from settlement_core.lifecycle import PayoutStatus
from settlement_core.model import ApprovePayout, ItemKind
from settlement_core.ports import PayoutFilter
from settlement_core.services.settlement import Settlement
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import START, TENANT

Step = Callable[[Settlement], object]
RESTARTS = 6  # a step is run again at most this often (two planned faults need two)


def _scenario(market: ChannelMarket) -> list[Step]:
    """The month, as steps that each take the (possibly restarted) service."""
    clock = market.clock
    pending: dict[str, list[tuple[bytes, dict[str, str]]]] = {"bank-a": [], "bank-b": []}

    def open_sellers(app: Settlement) -> None:
        for n in range(5):
            market.seller(f"s{n}", channel="bank-b" if n == 4 else "bank-a")
        market.seller("manual", rule="manual")
        market.seller("small", rule="threshold")

    sales = [
        market.command(f"s{n % 5}", f"{10 + n}.{n:02d}", "EUR" if n % 4 == 3 else "USD")
        for n in range(12)
    ]
    extra = [
        market.command("manual", "42.00"),
        market.command("small", "3.00"),
        market.command("s1", "-4.50", kind=ItemKind.REFUND),
    ]
    next_day = START + timedelta(days=1, hours=1)
    after_payout = [
        market.command("s0", "-2.00", kind=ItemKind.REFUND, at=next_day),
        market.command("s3", "7.77", at=next_day),
    ]

    def jobs(app: Settlement) -> None:
        app.close_cycles(clock.now())
        app.create_payouts(clock.now())

    def approve(app: Settlement) -> None:
        waiting = PayoutFilter(tenant_id=TENANT, status=PayoutStatus.PENDING_APPROVAL)
        for payout in app.query_payouts(waiting).items:
            app.approve_payout(
                ApprovePayout(tenant_id=TENANT, payout_id=payout.id, approved_by="ops")
            )

    def operations(app: Settlement) -> None:
        fund_and_release(app, TENANT, clock.now(), f"wire-{clock.now():%d%H%M}")

    def callbacks(app: Settlement) -> None:
        for name, bank in market.banks.items():
            pending[name].extend(bank.deliver())
            while pending[name]:
                body, headers = pending[name][0]
                # Re-sent after a crash that followed its commit: already applied.
                with contextlib.suppress(ReplayedCallback):
                    app.handle_callback(name, body, headers)
                pending[name].pop(0)

    def poll_and_retry(app: Settlement) -> None:
        app.poll_channels(clock.now())
        app.retry_failed_payouts(clock.now())

    def later(minutes: int) -> Step:
        # The clock moves in a step of its own: a step run again must not move it twice.
        return lambda app: market.advance(minutes=minutes)

    def reconcile(app: Settlement) -> None:
        app.reconcile(TENANT, clock.now())

    def advance(days: int) -> Step:
        return lambda app: market.advance(days=days)

    return [
        open_sellers,
        lambda app: app.record_billing_items(sales[:8]),
        *[lambda app, cmd=cmd: app.record_billing_item(cmd) for cmd in sales[8:]],
        lambda app: app.record_billing_item(sales[2]),  # an at-least-once replay
        *[lambda app, cmd=cmd: app.record_billing_item(cmd) for cmd in extra],
        advance(1),
        jobs,
        approve,
        operations,
        later(40),
        poll_and_retry,
        callbacks,
        later(90),
        poll_and_retry,
        callbacks,
        *[lambda app, cmd=cmd: app.record_billing_item(cmd) for cmd in after_payout],
        advance(1),
        jobs,
        operations,
        *[step for _ in range(4) for step in (later(60), poll_and_retry, callbacks)],
        reconcile,
    ]


def _market(engine: Engine | None) -> ChannelMarket:
    market = ChannelMarket(store_build(engine, batch_size=2), duplicate_rate=1.0)
    # bank-b executes every payout but its answers are lost: only polls learn of them.
    market.banks["bank-b"].timeout_rate = 1.0
    market.banks["bank-b"].lost_request_share = 0.0
    return market


def _run(market: ChannelMarket, engine: Engine | None, plan: FaultPlan) -> int:
    """Every step, restarted after each crash; how many crashes there were."""
    crashes = 0
    with sql_faults(engine, plan) if engine is not None else contextlib.nullcontext():
        for step in _scenario(market):
            for _ in range(RESTARTS):
                try:
                    step(with_faults(market.app, plan))
                    break
                except InjectedFault:
                    crashes += 1
            else:
                raise AssertionError("a step never completed")
    return crashes


@contextlib.contextmanager
def _store(backend: str, folder: Path) -> Iterator[Engine | None]:
    with empty_store(backend, folder) as engine:
        yield engine


# What a payout's attempts leave behind. A crash after release committed a payout
# as ongoing but before the channel got it leaves no answer: the poll learns the
# channel never received it and the payout goes again under a new attempt (never
# twice on a guess), so these fields may differ from the fault-free run's. The
# version counts writes, not money: a re-run may write a payout once where the
# fault-free run wrote it twice.
ATTEMPT_FIELDS = {"attempts", "failure_code", "submitted_at", "next_attempt_at"}
LOOSE_FIELDS = ATTEMPT_FIELDS | {"version"}


def _without_attempts(state: dict[str, object]) -> dict[str, object]:
    payouts = state["payouts"]
    assert isinstance(payouts, list)
    kept = [tuple(p for p in row if p[0] not in LOOSE_FIELDS) for row in payouts]
    return {**state, "payouts": kept}


def _assert_only_lost_sends_retried(
    actual: dict[str, object], expected: dict[str, object], crashes: int
) -> None:
    """Payouts whose attempts differ were sent again after the channel said it never got them.

    Each crash loses at most one send, so a payout goes at most once more per crash
    (two crashes may both land between committing the same payout and sending it).
    """
    mine, theirs = (
        {dict(row)["is"]: dict(row) for row in state["payouts"]}  # type: ignore[attr-defined]
        for state in (actual, expected)
    )
    for name, payout in mine.items():
        want = theirs[name]
        if any(payout[f] != want[f] for f in ATTEMPT_FIELDS):
            assert payout["failure_code"] == "not_received", (payout, want)
            assert want["attempts"] < payout["attempts"] <= want["attempts"] + crashes, (
                payout,
                want,
            )


def _differences(actual: dict[str, object], expected: dict[str, object]) -> str:
    """Per part of the state, what only one of the two runs has."""
    lines = []
    for part, want in expected.items():
        got = actual[part]
        if got != want:
            mine, theirs = _as_set(got), _as_set(want)
            lines += [f"{part}: only after faults {sorted(mine - theirs, key=repr)}"]
            lines += [f"{part}: only without {sorted(theirs - mine, key=repr)}"]
    return "\n".join(lines)


def _as_set(value: object) -> set[object]:
    if isinstance(value, dict):
        return {(k, v) for k, v in value.items()}
    assert isinstance(value, list)
    return set(value)


_REFERENCE: dict[str, tuple[dict[str, object], dict[str, int]]] = {}


def _reference(backend: str, folder: Path) -> tuple[dict[str, object], dict[str, int]]:
    """The fault-free end state of one backend, and how often each point was reached."""
    if backend not in _REFERENCE:
        with _store(backend, folder) as engine:
            market = _market(engine)
            plan = FaultPlan()
            assert _run(market, engine, plan) == 0
            assert_invariants(market)
            state = business_state(market.app, TENANT)
            _REFERENCE[backend] = (state, dict(plan.seen))
    return _REFERENCE[backend]


def _faults(
    seen: dict[str, int], points: tuple[str, ...]
) -> st.SearchStrategy[list[tuple[str, int]]]:
    one = st.sampled_from([p for p in points if seen.get(p)]).flatmap(
        lambda point: st.tuples(st.just(point), st.integers(1, seen[point]))
    )
    return st.lists(one, min_size=1, max_size=2, unique=True)


BACKENDS = {
    "memory": (UOW_POINTS, 60),
    "sqlite": (UOW_POINTS + SQL_POINTS, 12),
    "postgresql": (UOW_POINTS + SQL_POINTS, 4),
    "mysql": (UOW_POINTS + SQL_POINTS, 3),
}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_crashes_then_restarts_end_where_a_run_without_faults_ends(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Wherever one or two crashes hit, re-running the steps reaches the fault-free state."""
    points, count = BACKENDS[backend]
    expected, seen = _reference(backend, tmp_path_factory.mktemp("reference"))
    assert all(seen.get(p) for p in points), seen

    @settings(
        max_examples=examples(count),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(faults=_faults(seen, points))
    def crash_somewhere(faults: list[tuple[str, int]]) -> None:
        with _store(backend, tmp_path_factory.mktemp("faulty")) as engine:
            market = _market(engine)
            plan = FaultPlan(*faults)
            crashes = _run(market, engine, plan)
            assert crashes == len(plan.fired) >= 1
            assert_invariants(market)
            actual = business_state(market.app, TENANT)
            assert _without_attempts(actual) == _without_attempts(expected), _differences(
                actual, expected
            )
            _assert_only_lost_sends_retried(actual, expected, crashes)

    crash_somewhere()
