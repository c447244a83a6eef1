"""Concurrency on the server backends: many workers, one database, no lost or doubled money.

Each test runs on PostgreSQL and on MariaDB (ids `[postgresql]`, `[mysql]`), in a
schema (PostgreSQL) or database (MariaDB) made for it and dropped after. Server
URLs come from SETTLEMENT_TEST_POSTGRES_URL and SETTLEMENT_TEST_MYSQL_URL; an
unreachable server fails the run, never skips it.

Workers are threads of a ThreadPoolExecutor released together by a barrier; every
unit of work opens its own pooled connection. The Marketplace's ManualClock is
shared and never moves while workers run. Worker counts:

- accounts: 8 threads open the same 5 shops (one shared Settlement);
- replay: 8 threads replay the same 200 billing items, each in its own order, as
  singles and batches of 20, half of them on one hot seller (shared Settlement);
- ingest vs close: 5 ingest threads (items of today and late items of yesterday,
  singles and batches of 5) and 2 threads running close_cycles over and over
  (shared Settlement, job batches of 5);
- payouts: 6 threads each running close_cycles and create_payouts over 50
  accounts, half of whose due statements are still open (a Settlement per
  thread on the same engine, job batches of 5);
- processes: 3 spawned OS processes, one thread each, replay the same 200 items;
- deadlock: 1 payout-job thread against 1 host transaction, sequenced on purpose;
- lost races: 1 batch against 1 rival thread, sequenced on purpose.

Every call is bare: the library retries each race it loses, so any error that
escapes fails the test.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import OperationalError

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import make_engine, tables
from settlement_adapters.sqla.repositories import SqlStatementRepository
from settlement_adapters.sqla.scratch import Scratch, scratch_schema
from settlement_adapters.sqla.unit_of_work import SqlAlchemyUnitOfWork
from settlement_core.lifecycle import BillingItemStatus, StatementStatus
from settlement_core.model import ItemKind, OpenAccount, RecordBillingItem, Statement
from settlement_core.money import money, to_minor
from settlement_core.ports import Clock, FxRates, StatementFilter
from settlement_core.rules import RuleEngine
from settlement_core.services.ingest import ItemReceipt
from settlement_core.services.payouts import PayoutReport
from settlement_core.services.settlement import Settlement
from settlement_core.services.statements import CloseReport
from settlement_core.testing.fakes import ManualClock, StaticFxRates
from settlement_core.testing.invariants import assert_invariants, everything
from settlement_core.testing.marketplace import (
    RATES,
    START,
    TENANT,
    Build,
    Marketplace,
    standard_rules,
)

T = TypeVar("T")


THREADS = 8
REPLAY_ITEMS = 200
REPLAY_BATCH = 20
HOT_SHOP = "hot"
COLD_SHOPS = [f"shop-{i:02d}" for i in range(9)]
PROCESSES = 3
BARRIER_TIMEOUT = 60.0
RACED_BATCH = 12


# -- the store ---------------------------------------------------------------------------


Store = Scratch


def _scoped(url: str, schema: str) -> tuple[Engine, Engine]:
    """An admin engine on a URL and a view of it whose tables live in `schema`."""
    admin = make_engine(url, pool_size=THREADS + 2, max_overflow=4)
    return admin, admin.execution_options(schema_translate_map={None: schema})


@pytest.fixture(params=["postgresql", "mysql"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A schema (PostgreSQL) or database (MariaDB) made for one test and dropped after."""
    with scratch_schema(request.param, pool_size=THREADS + 2, max_overflow=4) as scratch:
        yield scratch


def _build(engine: Engine, batch_size: int = 500) -> Build:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx, batch_size=batch_size)

    return build


def _market(store: Store, batch_size: int = 500) -> Marketplace:
    return Marketplace(_build(store.engine, batch_size))


# -- running workers ---------------------------------------------------------------------


def _together(workers: Sequence[Callable[[], T]]) -> list[T]:
    """Run every worker on its own thread, released at once; their results in order.

    An exception in any worker is re-raised here, with its own traceback.
    """
    barrier = threading.Barrier(len(workers), timeout=BARRIER_TIMEOUT)

    def run(worker: Callable[[], T]) -> T:
        barrier.wait()
        return worker()

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        futures = [pool.submit(run, worker) for worker in workers]
        return [future.result() for future in futures]


def _rows_by(engine: Engine, column: Any) -> Counter[Any]:
    """How many rows hold each value of a column."""
    with engine.connect() as conn:
        rows = conn.execute(select(column, func.count()).group_by(column)).all()
    return Counter({value: int(count) for value, count in rows})


def _outbox_names(engine: Engine) -> Counter[str]:
    return Counter({str(k): v for k, v in _rows_by(engine, tables.outbox.c.name).items()})


# -- 1. accounts -------------------------------------------------------------------------


def test_concurrent_get_or_create_account_makes_one_account_per_shop(store: Store) -> None:
    """8 threads open the same 5 shops: one row each, one creator each, one event each."""
    market = _market(store)
    shops = [f"shop-{i}" for i in range(5)]

    def worker(seed: int) -> Callable[[], list[tuple[str, str, bool]]]:
        def run() -> list[tuple[str, str, bool]]:
            order = random.Random(seed).sample(shops, len(shops))
            found = []
            for shop_id in order * 2:  # once to race, once more as a plain replay
                receipt = market.app.get_or_create_account(
                    OpenAccount(tenant_id=TENANT, shop_id=shop_id)
                )
                assert receipt.account.shop_id == shop_id
                found.append((shop_id, receipt.account.id, receipt.created))
            return found

        return run

    results = _together([worker(seed) for seed in range(THREADS)])

    assert _rows_by(store.engine, tables.accounts.c.shop_id) == dict.fromkeys(shops, 1)
    stored = {shop_id: market.app.find_account(TENANT, shop_id) for shop_id in shops}
    ids: defaultdict[str, set[str]] = defaultdict(set)
    creators: Counter[str] = Counter()
    for shop_id, account_id, created in (r for found in results for r in found):
        ids[shop_id].add(account_id)
        creators[shop_id] += created
    for shop_id in shops:
        account = stored[shop_id]
        assert account is not None
        assert ids[shop_id] == {account.id}, f"{shop_id}: receipts name other accounts"
    assert creators == dict.fromkeys(shops, 1), "each shop must be created by exactly one call"
    assert _outbox_names(store.engine)["AccountOpened"] == len(shops)


# -- 2. replaying the same items ---------------------------------------------------------


def _replay_commands() -> list[RecordBillingItem]:
    """200 fixed items: half on the hot seller, some in EUR, some refunds and fees."""
    rng = random.Random(20250303)
    commands = []
    for n in range(REPLAY_ITEMS):
        shop_id = HOT_SHOP if n % 2 == 0 else rng.choice(COLD_SHOPS)
        currency = "EUR" if n % 7 == 3 else "USD"
        kind = rng.choice([ItemKind.SALE] * 6 + [ItemKind.REFUND, ItemKind.FEE])
        cents = rng.randint(1, 50_000)
        amount = f"{'-' if kind is not ItemKind.SALE else ''}{cents // 100}.{cents % 100:02d}"
        commands.append(
            RecordBillingItem(
                tenant_id=TENANT,
                shop_id=shop_id,
                key=f"replay-{n:03d}",
                order_id=f"order-{n:03d}",
                kind=kind,
                amount=money(amount, currency),
                occurred_at=START,
            )
        )
    return commands


# (key, item id, statement id, replayed)
Booked = tuple[str, str, str, bool]


def _replay(app: Settlement, commands: Sequence[RecordBillingItem], seed: int) -> list[Booked]:
    """Record every command in a shuffled order, as single items and batches."""
    rng = random.Random(seed)
    todo = rng.sample(list(commands), len(commands))
    booked: list[Booked] = []
    while todo:
        if rng.random() < 0.5:
            batch, todo = todo[:REPLAY_BATCH], todo[REPLAY_BATCH:]
            receipts = app.record_billing_items(batch)
        else:
            batch, todo = todo[:1], todo[1:]
            receipts = [app.record_billing_item(batch[0])]
        assert len(receipts) == len(batch)
        booked.extend(_booked(cmd, r) for cmd, r in zip(batch, receipts, strict=True))
    return booked


def _booked(cmd: RecordBillingItem, receipt: ItemReceipt) -> Booked:
    assert receipt.amount == cmd.amount
    return (cmd.key, receipt.item_id, receipt.statement_id, receipt.replayed)


def _open_replay_shops(market: Marketplace) -> None:
    for shop_id in [HOT_SHOP, *COLD_SHOPS]:
        market.shop(shop_id)


def _check_replay(
    market: Marketplace,
    store: Store,
    commands: Sequence[RecordBillingItem],
    runs: Sequence[Sequence[Booked]],
) -> None:
    """Every key stored once; every receipt names it; totals and balances add up."""
    app = market.app
    by_key = {cmd.key: cmd for cmd in commands}
    assert _rows_by(store.engine, tables.billing_items.c.item_key) == dict.fromkeys(by_key, 1)
    items, statements, payouts = everything(app)
    assert len(items) == len(commands)
    assert payouts == []
    stored = {item.key: item for item in items}
    for run in runs:
        assert sorted(key for key, *_ in run) == sorted(by_key), "a run skipped or repeated a key"
    created: Counter[str] = Counter()
    for key, item_id, statement_id, replayed in (b for run in runs for b in run):
        assert (item_id, statement_id) == (stored[key].id, stored[key].statement_id), key
        created[key] += not replayed
    assert created == dict.fromkeys(by_key, 1), "each key must be booked by exactly one call"

    shop_of = {a: app.get_account(TENANT, a).shop_id for a in {i.account_id for i in items}}
    expected: defaultdict[tuple[str, str], int] = defaultdict(int)
    counts: Counter[tuple[str, str]] = Counter()
    for cmd in commands:
        expected[(cmd.shop_id, cmd.amount.currency.code)] += to_minor(cmd.amount)
        counts[(cmd.shop_id, cmd.amount.currency.code)] += 1
    assert len(statements) == len(expected), "one statement per shop and currency"
    for statement in statements:
        series = (shop_of[statement.account_id], statement.currency)
        assert statement.status is StatementStatus.OPEN
        assert statement.total_minor == expected[series], series
        assert statement.item_count == counts[series], series
    for account_id, shop_id in shop_of.items():
        pending = app.balance(TENANT, account_id).pending
        for currency in ("USD", "EUR"):
            want = expected.get((shop_id, currency), 0)
            got = to_minor(pending[currency]) if currency in pending else 0
            assert got == want, f"{shop_id} {currency}: pending {got} != items {want}"
    assert _outbox_names(store.engine)["BillingItemRecorded"] == len(commands)
    assert_invariants(market)


def test_concurrent_replays_store_each_item_once(store: Store) -> None:
    """8 threads replay the same 200 items: 200 rows, exact totals, one creator per key."""
    market = _market(store)
    _open_replay_shops(market)
    commands = _replay_commands()

    def worker(seed: int) -> Callable[[], list[Booked]]:
        return lambda: _replay(market.app, commands, seed)

    runs = _together([worker(seed) for seed in range(THREADS)])
    _check_replay(market, store, commands, runs)


# -- 3. ingest while cycles close --------------------------------------------------------

INGEST_THREADS = 5
CLOSE_THREADS = 2
INGEST_SHOPS = [f"seller-{i:02d}" for i in range(24)]
INGEST_PER_THREAD = 60


def test_ingest_during_close_never_lands_on_a_closed_statement(store: Store) -> None:
    """Late and current items race closes: every closed total equals its recount and items."""
    market = _market(store, batch_size=5)
    app = market.app
    for shop_id in INGEST_SHOPS:
        market.shop(shop_id)
    yesterday = START + timedelta(hours=12)
    market.advance(hours=13)
    # Yesterday's statements for two thirds of the shops; the rest get theirs from late
    # items while the closers run, so there is something to close all along.
    seed_items = [
        market.command(shop_id, f"{i + 1}.00", currency, at=yesterday, key=f"seed-{i}-{currency}")
        for i, shop_id in enumerate(INGEST_SHOPS)
        for currency in ("USD", "EUR")
        if i % 3 != 0
    ]
    app.record_billing_items(seed_items)
    now = market.advance(hours=12)  # one in the morning of the next day

    rng = random.Random(7)
    plans: list[list[RecordBillingItem]] = []
    for worker in range(INGEST_THREADS):
        plan = []
        for n in range(INGEST_PER_THREAD):
            late = rng.random() < 0.5
            at = (yesterday + timedelta(minutes=rng.randint(0, 600))) if late else now
            cents = rng.randint(1, 20_000)
            plan.append(
                market.command(
                    rng.choice(INGEST_SHOPS),
                    f"{cents // 100}.{cents % 100:02d}",
                    rng.choice(["USD", "USD", "EUR"]),
                    at=at,
                    key=f"ingest-{worker}-{n}",
                )
            )
        plans.append(plan)
    ingest_done = threading.Event()
    ingesting = [INGEST_THREADS]
    lock = threading.Lock()

    def ingest(plan: list[RecordBillingItem], seed: int) -> Callable[[], list[CloseReport]]:
        def run() -> list[CloseReport]:
            pick = random.Random(seed)
            try:
                todo = list(plan)
                while todo:
                    size = pick.choice([1, 1, 1, 5])
                    batch, todo = todo[:size], todo[size:]
                    if size == 1:
                        app.record_billing_item(batch[0])
                    else:
                        app.record_billing_items(batch)
            finally:
                with lock:
                    ingesting[0] -= 1
                    if ingesting[0] == 0:
                        ingest_done.set()
            return []  # an ingest worker closes nothing

        return run

    def close() -> list[CloseReport]:
        reports = []
        while not ingest_done.is_set():
            report = app.close_cycles(now)
            reports.append(report)
            if not report.closed:
                time.sleep(0.002)
        return reports

    workers = [ingest(plan, seed) for seed, plan in enumerate(plans)]
    workers += [close] * CLOSE_THREADS
    reports = [r for found in _together(workers) for r in found]
    reports.append(app.close_cycles(now))

    assert [m for r in reports for m in r.mismatched] == []
    items, statements, _ = everything(app)
    keys = [cmd.key for cmd in seed_items] + [cmd.key for plan in plans for cmd in plan]
    assert sorted(item.key for item in items) == sorted(keys)
    per_statement: defaultdict[str, list[int]] = defaultdict(list)
    for item in items:
        per_statement[item.statement_id].append(item.amount_minor)
    closed = [s for s in statements if s.status is not StatementStatus.OPEN]
    assert sum(r.closed for r in reports) == len(closed), "a statement was closed twice"
    for statement in statements:
        amounts = per_statement[statement.id]
        assert statement.total_minor == sum(amounts), statement
        assert statement.item_count == len(amounts), statement
        if statement.period.end <= now:
            assert statement.status is StatementStatus.CLOSED, statement
            assert statement.recount_minor == statement.total_minor, statement
        else:
            assert statement.status is StatementStatus.OPEN, statement
    status_of = {s.id: s.status for s in statements}
    for item in items:
        want = (
            BillingItemStatus.PENDING
            if status_of[item.statement_id] is StatementStatus.OPEN
            else BillingItemStatus.STATEMENTED
        )
        assert item.status is want, item
    assert_invariants(market)


# -- 4. payouts from many workers --------------------------------------------------------

PAYOUT_THREADS = 6
PAYOUT_SHOPS = [f"payee-{i:02d}" for i in range(50)]


def test_concurrent_payout_runs_pay_each_statement_once(store: Store) -> None:
    """6 threads close and pay 50 accounts at once: one payout per account and currency."""
    market = _market(store, batch_size=5)
    app = market.app
    for shop_id in PAYOUT_SHOPS:
        market.shop(shop_id)
    day = START + timedelta(hours=9)
    market.advance(hours=10)

    def items(shops: Sequence[str], prefix: str) -> list[RecordBillingItem]:
        found = []
        for i, shop_id in enumerate(shops):
            found.append(market.command(shop_id, f"{10 + i}.50", at=day, key=f"{prefix}-{i}-u"))
            found.append(market.command(shop_id, f"{i}.25", at=day, key=f"{prefix}-{i}-u2"))
            if i % 3 == 0:
                found.append(
                    market.command(shop_id, f"{5 + i}.00", "EUR", at=day, key=f"{prefix}-{i}-e")
                )
        return found

    half = len(PAYOUT_SHOPS) // 2
    app.record_billing_items(items(PAYOUT_SHOPS[:half], "a"))
    now = market.advance(hours=15)  # one in the morning of the next day
    assert app.close_cycles(now).closed > 0
    # Late items of yesterday for the other half open statements that are due but still open.
    app.record_billing_items(items(PAYOUT_SHOPS[half:], "b"))
    open_filter = StatementFilter(tenant_id=TENANT, status=StatementStatus.OPEN)
    still_open = len(app.query_statements(open_filter, limit=1000).items)
    assert still_open > 0

    def worker(seed: int) -> Callable[[], tuple[list[CloseReport], list[PayoutReport]]]:
        def run() -> tuple[list[CloseReport], list[PayoutReport]]:
            own = bootstrap(
                store.engine,
                market.rules,
                clock=market.clock,
                fx=StaticFxRates(RATES),
                batch_size=5,
            )
            closes, pays = [], []
            if seed % 2:
                pays.append(own.create_payouts(now))
            closes.append(own.close_cycles(now))
            pays.append(own.create_payouts(now))
            return closes, pays

        return run

    results = _together([worker(seed) for seed in range(PAYOUT_THREADS)])
    closes = [r for c, _ in results for r in c]
    pays = [r for _, p in results for r in p]
    closes.append(app.close_cycles(now))  # anything a worker left behind
    pays.append(app.create_payouts(now))

    assert sum(r.closed for r in closes) == still_open, "a statement was closed twice or never"
    assert [m for r in closes for m in r.mismatched] == []
    assert [s for r in pays for s in (*r.carried, *r.skipped_mismatch)] == []
    created = [p for r in pays for p in r.created]
    assert len(created) == len(set(created)), "a payout was reported twice"

    booked, statements, payouts = everything(app)
    assert sorted(created) == sorted(p.id for p in payouts)
    per_series = Counter((p.account_id, p.currency) for p in payouts)
    series = {(i.account_id, i.currency) for i in booked}
    assert per_series == dict.fromkeys(series, 1), "not exactly one payout per account/currency"
    expected: defaultdict[tuple[str, str], int] = defaultdict(int)
    for item in booked:
        expected[(item.account_id, item.currency)] += item.amount_minor
    paid_in: Counter[str] = Counter()
    for payout in payouts:
        assert payout.amount_minor == expected[(payout.account_id, payout.currency)], payout
        paid_in.update(payout.statement_ids)
    assert paid_in == {s.id: 1 for s in statements}, "a statement paid twice or not at all"
    for statement in statements:
        assert statement.status is StatementStatus.PAID_OUT, statement
    assert _outbox_names(store.engine)["PayoutCreated"] == len(payouts)
    assert_invariants(market)


# -- 5. replay from several processes ----------------------------------------------------


def _process_replay(url: str, schema: str, seed: int, barrier: Any, results: Any) -> None:
    """In a spawned process: replay the fixed items against the shared schema."""
    try:
        admin, engine = _scoped(url, schema)
        app = bootstrap(engine, standard_rules(), clock=ManualClock(START), fx=StaticFxRates(RATES))
        commands = _replay_commands()
        barrier.wait(BARRIER_TIMEOUT)
        booked = _replay(app, commands, seed)
        admin.dispose()
        results.put((seed, "ok", booked))
    except BaseException:
        results.put((seed, "error", traceback.format_exc()))


def test_replays_from_several_processes_store_each_item_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 OS processes replay the same 200 items: the same exact outcome as with threads."""
    market = _market(store)
    _open_replay_shops(market)
    commands = _replay_commands()
    # The children import this module by its name; its root must be on their sys.path.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[__name__.count(".")]))
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    queue = spawn.Queue()
    processes = [
        spawn.Process(target=_process_replay, args=(store.url, store.schema, seed, barrier, queue))
        for seed in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [queue.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = [detail for _, status, detail in outcomes if status != "ok"]
    assert errors == [], "\n".join(errors)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    assert sorted(seed for seed, _, _ in outcomes) == list(range(PROCESSES))
    runs = [booked for _, _, booked in sorted(outcomes, key=lambda o: o[0])]
    _check_replay(market, store, commands, runs)


# -- 6. a deadlock inside a job ----------------------------------------------------------


def _wait_for_a_lock_wait(store: Store) -> None:
    """Block until some transaction on this test's schema waits for a row lock."""
    if store.backend == "postgresql":
        sql = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE :pattern"
        )
    else:
        sql = (
            "SELECT count(*) FROM information_schema.innodb_trx"
            " WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE :pattern"
        )
    deadline = time.monotonic() + 10
    with store.engine.connect() as conn:
        while not conn.execute(text(sql), {"pattern": f"%{store.schema}%"}).scalar_one():
            assert time.monotonic() < deadline, "the payout job never waited for the lock"
            time.sleep(0.01)
            conn.rollback()  # a fresh snapshot for the next look
    time.sleep(0.1)  # PostgreSQL: the job's deadlock timer must run out first


def test_a_deadlock_inside_a_payout_run_is_retried_not_raised(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payout job chosen as a deadlock victim retries; it does not hand the host a DB error.

    The job locks the account's payable statement, then asks for its carried
    statement, which a host transaction holds; the host then asks for the payable
    one. Both servers roll the job back (PostgreSQL: it waited first; MariaDB: it
    has written less), and the job must treat that as a lost race. (Found at
    607c2d0: reads ran outside the unit of work's error translation, so the
    driver's deadlock error reached the host unretried.)
    """
    market = _market(store)
    app = market.app
    market.shop("x", rule="threshold")  # pays out from 50.00 USD on
    market.advance(hours=1)
    market.order("x", "10.00")
    market.advance(days=1)
    market.run_jobs()  # 10.00 is below the threshold: carried forward
    market.order("x", "100.00")
    now = market.advance(days=1)
    assert app.close_cycles(now).closed == 1
    st = tables.statements
    with store.engine.connect() as conn:
        by_status = {row.status: row.id for row in conn.execute(select(st.c.status, st.c.id))}
    assert sorted(by_status) == ["carried_forward", "closed"]

    reached = threading.Event()
    carried_for_accounts = SqlStatementRepository.carried_for_accounts

    def spy(self: SqlStatementRepository, account_ids: Sequence[str]) -> dict[str, list[Statement]]:
        reached.set()  # payable_for_accounts has locked the payable statement
        return carried_for_accounts(self, account_ids)

    monkeypatch.setattr(SqlStatementRepository, "carried_for_accounts", spy)
    with store.engine.connect() as host, ThreadPoolExecutor(max_workers=1) as pool:
        tx = host.begin()
        host.execute(
            select(st.c.id).where(st.c.id == by_status["carried_forward"]).with_for_update()
        )
        # More written rows than the job will have: MariaDB rolls back the smaller one.
        pad = {"tenant_id": "pad", "name": "pad", "payload": {}, "created_at": now, "sent": True}
        host.execute(insert(tables.outbox), [{"id": f"pad-{i}", **pad} for i in range(200)])
        job = pool.submit(app.create_payouts, now)
        assert reached.wait(10), "the payout job never reached carried_for_accounts"
        _wait_for_a_lock_wait(store)
        try:
            host.execute(select(st.c.id).where(st.c.id == by_status["closed"]).with_for_update())
        except OperationalError as exc:  # not the expected failure: the set-up went wrong
            pytest.fail(f"the host, not the job, was the deadlock victim: {exc}")
        tx.rollback()
        first = job.result(timeout=30)
    monkeypatch.undo()
    second = app.create_payouts(now)

    payouts = everything(app)[2]
    assert [(p.amount_minor, p.currency) for p in payouts] == [(11000, "USD")]
    assert [*first.created, *second.created] == [payouts[0].id]
    assert_invariants(market)


# -- 7. a batch losing one race per attempt ----------------------------------------------


def test_a_batch_survives_losing_one_race_per_item(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each lost race on an item key is progress: a batch of n new items survives n losses.

    This is what concurrent overlapping replays do to a batch, made deterministic:
    just before each commit of the batch, a rival records the next of its keys,
    so every attempt loses on one key and the next attempt replays it. After n
    attempts every key is the rival's and the batch answers as a replay.
    """
    market = _market(store)
    app = market.app
    market.shop("s")
    market.order("s", "0.50")  # the statement exists: only item keys race
    batch = [market.command("s", f"{n + 1}.00", key=f"raced-{n:02d}") for n in range(RACED_BATCH)]
    taken: list[str] = []
    rival = threading.local()
    real_commit = SqlAlchemyUnitOfWork.commit

    def rival_records(cmd: RecordBillingItem) -> ItemReceipt:
        rival.active = True
        return app.record_billing_item(cmd)

    def commit(self: SqlAlchemyUnitOfWork) -> None:
        if not getattr(rival, "active", False) and len(taken) < len(batch):
            cmd = batch[len(taken)]
            taken.append(cmd.key)
            with ThreadPoolExecutor(max_workers=1) as pool:
                assert not pool.submit(rival_records, cmd).result().replayed
        real_commit(self)

    monkeypatch.setattr(SqlAlchemyUnitOfWork, "commit", commit)
    receipts = app.record_billing_items(batch)
    monkeypatch.undo()

    assert taken == [cmd.key for cmd in batch]
    items = {item.key: item for item in everything(app)[0]}
    assert len(items) == RACED_BATCH + 1
    assert [(r.item_id, r.replayed) for r in receipts] == [
        (items[cmd.key].id, True) for cmd in batch
    ]
    assert_invariants(market)
