"""Order intake under concurrency on PostgreSQL and MariaDB: racing collectors and revokers.

Four threads, released together by a barrier, collect the same source (every order
must be booked once, the checkpoint must end past the last window) or revoke the
same run (every item reversed once). Every call is bare: the library retries the
races it loses, so any error that escapes fails the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import attrs
import pytest

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla.scratch import Scratch, scratch_schema
from settlement_core.intake import WindowPlan
from settlement_core.lifecycle import RunStatus
from settlement_core.ports import Clock, FxRates, ItemFilter, paged
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import START, TENANT, Marketplace
from settlement_core.testing.sources import ORDER_MAPPING, ListSource, order_fields

T = TypeVar("T")
THREADS = 4


@pytest.fixture(params=["postgresql", "mysql"])
def market(request: pytest.FixtureRequest) -> Iterator[Marketplace]:
    """A marketplace on a schema (PostgreSQL) or database (MariaDB) made for one test."""
    with scratch_schema(request.param, pool_size=THREADS + 2, max_overflow=4) as scratch:
        yield Marketplace(_build(scratch))


def _build(scratch: Scratch) -> Callable[[RuleEngine, Clock, FxRates], Settlement]:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(scratch.engine, rules, clock=clock, fx=fx, batch_size=7)

    return build


def _together(workers: Sequence[Callable[[], T]]) -> list[T]:
    barrier = threading.Barrier(len(workers), timeout=60)

    def run(worker: Callable[[], T]) -> T:
        barrier.wait()
        return worker()

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        return [f.result() for f in [pool.submit(run, w) for w in workers]]


def _keys(market: Marketplace) -> list[str]:
    where = ItemFilter(tenant_id=TENANT)
    return sorted(
        i.key for i in paged(lambda after: market.app.query_items(where, after=after, limit=1000))
    )


def test_racing_collectors_book_every_order_once(market: Marketplace) -> None:
    """Four collectors of one source: one moves each window, the others stop or replay."""
    market.shop("s1")
    source = ListSource("shared-db", TENANT, market.clock.now)
    for n in range(40):
        at = START + timedelta(seconds=20 * n)
        source.add(order_fields(f"o{n}", "s1", "1.00", at), at, at)
    market.advance(minutes=20)
    plan = WindowPlan(size=timedelta(minutes=1), lateness=timedelta(minutes=2))
    now = market.clock.now()
    reports = _together(
        [lambda: market.app.collect(source, ORDER_MAPPING, now, plan=plan, start=START)] * THREADS
    )
    final = market.app.collect(source, ORDER_MAPPING, now, plan=plan, start=START)
    assert final.windows == 0 and final.checkpoint == START + timedelta(minutes=20)
    assert sum(r.recorded for r in reports) == 40
    assert _keys(market) == sorted(f"shared-db:o{n}:order" for n in range(40))
    assert_invariants(market)


def test_racing_revokers_reverse_every_item_once(market: Marketplace) -> None:
    """Four revocations of one run end revoked with one reversal per item."""
    market.shop("s1")
    for _ in range(30):
        cmd = market.command("s1", "2.00")
        market.app.record_billing_item(attrs.evolve(cmd, run_id="run-1"))
    reports = _together([lambda: market.app.revoke_run(TENANT, "run-1", "ops", 4)] * THREADS)
    assert {r.status for r in reports} == {RunStatus.REVOKED}
    keys = _keys(market)
    assert len([k for k in keys if k.startswith("revoke:")]) == 30
    account = market.app.find_account(TENANT, "s1")
    assert account is not None
    assert market.app.balance(TENANT, account.id).pending == {}
    assert_invariants(market)
