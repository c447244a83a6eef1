"""The whole flow from N OS processes at once on PostgreSQL and MariaDB: nothing lost or doubled.

N spawned worker processes share one scratch schema and one simulated bank
(served to all of them by a multiprocessing manager, as a real bank is one
party for every worker). Each process has one role, round robin over six: two ingest
(singles and batches of new items, plus items every ingest worker sends, so
replays race across processes, and accounts opened by several at once), close
cycles, create payouts, prepare/fund/release, and poll/retry/callbacks. All of
them read one clock that runs an hour per real second from 20:00 on, so a day
ends while they run. The bank loses answers, fails, and sends callbacks twice
and out of order.

After the workers stop, the parent runs the jobs a little longer to settle,
then checks: every key each worker recorded is stored once with its amount;
no duplicate statement, item, payout or event row; money is conserved per
account and currency and the ledger balances (assert_invariants);
reconciliation finds nothing; the bank executed each key at most once and
paid each payout at most once. Worker counts: 6 in the normal test run, 6, 12
and 18 in the long profile (`nox -s reliability`).
"""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.channels import SimulatedBank
from settlement_adapters.sqla import make_engine, tables
from settlement_adapters.sqla.scratch import Scratch, scratch_schema
from settlement_adapters.testing import LONG_PROFILE, POLICY, fund_and_release, workers
from settlement_core.errors import CallbackRejected
from settlement_core.model import ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import from_minor, to_minor
from settlement_core.ports import CallbackNotice, ChannelResult, Outcome, PayoutInstruction
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import StaticFxRates
from settlement_core.testing.invariants import assert_invariants, everything
from settlement_core.testing.marketplace import RATES, START, TENANT, Marketplace, standard_rules

# Two ingest workers in every six, so replays race across processes.
ROLES = ("ingest", "close", "payouts", "ingest", "release", "poll")
WORKER_COUNTS = workers((6,), (6, 12, 18))
RUN_SECONDS = 16.0 if LONG_PROFILE else 6.0
SETTLE_SECONDS = 3.0
SPEED = 3600  # simulated seconds per real second
BEGIN = START + timedelta(hours=20)
SHOPS = [f"shop-{i:02d}" for i in range(12)]
LATE_SHOPS = [f"late-{i}" for i in range(4)]  # opened by every ingest worker at once
SHARED_ITEMS = 40  # sent by every ingest worker
CHANNEL = "bank-a"
SECRET = b"process-bank-secret"


class SharedClock:
    """Every process's clock: `BEGIN` at `t0` (wall time), then SPEED times faster."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0

    def now(self) -> datetime:
        """The simulated instant for the wall clock now."""
        return BEGIN + timedelta(seconds=(time.time() - self.t0) * SPEED)


def _bank(t0: float) -> SimulatedBank:
    """The one bank, living in the manager's process."""
    return SimulatedBank(
        name=CHANNEL,
        secret=SECRET,
        clock=SharedClock(t0),
        seed=11,
        latency=timedelta(minutes=20),
        failure_rate=0.1,
        timeout_rate=0.2,
        duplicate_rate=0.3,
        reorder=True,
    )


_BANK: SimulatedBank | None = None


def _serve_bank(t0: float) -> SimulatedBank:
    global _BANK  # one bank per manager process, made on first use
    if _BANK is None:
        _BANK = _bank(t0)
    return _BANK


class BankManager(BaseManager):
    """Serves the bank to every process."""


BankManager.register(
    "bank",
    callable=_serve_bank,
    exposed=("submit", "status", "parse_callback", "deliver", "report_rows", "times_executed"),
)


class RemoteBank:
    """The PaymentChannel port over the manager's bank."""

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    @property
    def name(self) -> str:
        """The channel's name."""
        return CHANNEL

    def submit(self, instruction: PayoutInstruction) -> ChannelResult:
        """Forwarded to the bank."""
        result: ChannelResult = self._proxy.submit(instruction)
        return result

    def status(self, idempotency_key: str) -> ChannelResult:
        """Forwarded to the bank."""
        result: ChannelResult = self._proxy.status(idempotency_key)
        return result

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackNotice:
        """Forwarded to the bank."""
        notice: CallbackNotice = self._proxy.parse_callback(body, dict(headers), now)
        return notice


def _app(engine: Engine, t0: float, proxy: Any) -> Settlement:
    return bootstrap(
        engine,
        standard_rules(),
        clock=SharedClock(t0),
        fx=StaticFxRates(RATES),
        channels=[RemoteBank(proxy)],
        channel_policy=POLICY,
        batch_size=5,
    )


def _command(shop_id: str, key: str, minor: int, at: datetime) -> RecordBillingItem:
    kind = ItemKind.SALE if minor > 0 else ItemKind.REFUND
    return RecordBillingItem(
        tenant_id=TENANT,
        shop_id=shop_id,
        key=key,
        order_id=key.rsplit(":", 1)[0],
        kind=kind,
        amount=from_minor(minor, "EUR" if minor % 5 == 0 else "USD"),
        occurred_at=at,
    )


def _shared(n: int) -> tuple[str, str, int]:
    """The n-th item every ingest worker sends: (shop, key, minor units), fixed."""
    rng = random.Random(n)
    minor = rng.randint(100, 30_000) * (1 if rng.random() < 0.85 else -1)
    return rng.choice(SHOPS + LATE_SHOPS), f"shared-{n}:x", minor


def _ingest(app: Settlement, worker: int, until: float) -> list[tuple[str, int]]:
    rng = random.Random(worker)
    for shop_id in rng.sample(LATE_SHOPS, len(LATE_SHOPS)):
        app.get_or_create_account(
            OpenAccount(tenant_id=TENANT, shop_id=shop_id, payout_channel=CHANNEL)
        )
    sent: list[tuple[str, int]] = []
    shared = rng.sample(range(SHARED_ITEMS), SHARED_ITEMS)
    n = 0
    while time.time() < until:
        at = app.context.now()
        batch = []
        for _ in range(rng.choice([1, 1, 4])):
            if shared and rng.random() < 0.3:
                # The same content from every worker (a replay), late items of the first day.
                shop_id, key, minor = _shared(shared.pop())
                batch.append(_command(shop_id, key, minor, BEGIN))
                continue
            n += 1
            shop_id, key = rng.choice(SHOPS), f"w{worker}-{n}:x"
            minor = rng.randint(100, 30_000) * (1 if rng.random() < 0.85 else -1)
            batch.append(_command(shop_id, key, minor, at))
        if len(batch) == 1:
            app.record_billing_item(batch[0])
        else:
            app.record_billing_items(batch)
        sent.extend((cmd.key, to_minor(cmd.amount)) for cmd in batch)
    for n_left in shared:  # every worker sends every shared item
        shop_id, key, minor = _shared(n_left)
        app.record_billing_item(_command(shop_id, key, minor, BEGIN))
        sent.append((key, minor))
    return sent


def _poll(app: Settlement, proxy: Any) -> int:
    now = app.context.now()
    app.poll_channels(now)
    app.retry_failed_payouts(now)
    rejected = 0
    for body, headers in proxy.deliver():
        try:
            app.handle_callback(CHANNEL, body, headers)
        except CallbackRejected:  # a duplicate, or stale after a slow round: polls cover it
            rejected += 1
    return rejected


def _work(role: str, app: Settlement, proxy: Any, worker: int, until: float) -> Any:
    if role == "ingest":
        return _ingest(app, worker, until)
    rounds = 0
    rejected = 0
    while time.time() < until:
        rounds += 1
        now = app.context.now()
        if role == "close":
            app.close_cycles(now)
        elif role == "payouts":
            app.create_payouts(now)
        elif role == "release":
            fund_and_release(app, TENANT, now, f"wire-{worker}-{rounds}")
        else:
            rejected += _poll(app, proxy)
        time.sleep(0.01)
    return {"rounds": rounds, "rejected": rejected}


def _worker(
    url: str, schema: str, address: Any, start: Any, worker: int, barrier: Any, out: Any
) -> None:
    """In a spawned process: one role until the run's end."""
    try:
        admin = make_engine(url, pool_size=2, max_overflow=2)
        engine = admin.execution_options(schema_translate_map={None: schema})
        manager = BankManager(address=address)
        manager.connect()
        barrier.wait(120)  # every process is ready: the parent starts the clock
        barrier.wait(120)
        t0 = start.value
        proxy = manager.bank(t0)  # type: ignore[attr-defined]
        app = _app(engine, t0, proxy)
        role = ROLES[worker % len(ROLES)]
        result = _work(role, app, proxy, worker, t0 + RUN_SECONDS)
        admin.dispose()
        out.put((worker, role, "ok", result))
    except BaseException:
        out.put((worker, "?", "error", traceback.format_exc()))


@pytest.fixture(params=["postgresql", "mysql"])
def store(request: pytest.FixtureRequest) -> Iterator[Scratch]:
    """A schema (PostgreSQL) or database (MariaDB) made for one test and dropped after."""
    with scratch_schema(request.param, pool_size=4, max_overflow=4) as scratch:
        yield scratch


def _count(engine: Engine, *columns: Any) -> Counter[Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(*columns, func.count()).group_by(*columns)).all()
    return Counter({tuple(row[:-1]): int(row[-1]) for row in rows})


@pytest.mark.parametrize("count", WORKER_COUNTS)
def test_n_processes_run_the_whole_flow_at_once(
    store: Scratch, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest, close, payouts, release and polls from N processes: nothing lost or doubled."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[__name__.count(".")]))
    spawn = multiprocessing.get_context("spawn")
    manager = BankManager(ctx=spawn)
    manager.start()
    try:
        setup = bootstrap(store.engine, standard_rules())
        for shop_id in SHOPS:
            setup.get_or_create_account(
                OpenAccount(tenant_id=TENANT, shop_id=shop_id, payout_channel=CHANNEL)
            )
        barrier = spawn.Barrier(count + 1)
        start = spawn.Value("d", 0.0)
        out = spawn.Queue()
        processes = [
            spawn.Process(
                target=_worker,
                args=(store.url, store.schema, manager.address, start, n, barrier, out),
            )
            for n in range(count)
        ]
        for process in processes:
            process.start()
        barrier.wait(120)
        t0 = start.value = time.time()
        proxy = manager.bank(t0)  # type: ignore[attr-defined]
        parent = _app(store.engine, t0, proxy)
        barrier.wait(120)
        outcomes = [out.get(timeout=RUN_SECONDS + 240) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        errors = [detail for _, _, status, detail in outcomes if status != "ok"]
        assert errors == [], "\n".join(errors)
        assert [p.exitcode for p in processes] == [0] * count

        settle_until = time.time() + SETTLE_SECONDS
        while time.time() < settle_until:
            for role in ("close", "payouts", "release", "poll"):
                _work(role, parent, proxy, 99, time.time() + 0.05)
        _check(store, parent, proxy, outcomes)
    finally:
        manager.shutdown()


def _check(store: Scratch, app: Settlement, proxy: Any, outcomes: list[Any]) -> None:
    """Nothing lost, nothing doubled, money conserved, nothing paid twice."""
    expected: dict[str, int] = {}
    for _, role, _, result in outcomes:
        if role == "ingest":
            for key, minor in result:
                assert expected.setdefault(key, minor) == minor, key
    items, statements, payouts = everything(app)
    stored = {item.key: item.amount_minor for item in items}
    assert stored == expected, "an item was lost, added or changed"
    engine = store.engine
    i, s, p, o = tables.billing_items, tables.statements, tables.payouts, tables.outbox
    assert set(_count(engine, i.c.tenant_id, i.c.item_key).values()) == {1}
    series = _count(engine, s.c.account_id, s.c.currency, s.c.period_start)
    assert set(series.values()) == {1}, "two statements for one period"
    assert set(_count(engine, p.c.tenant_id, p.c.payout_key).values()) <= {1}
    names = {name: n for (name,), n in _count(engine, o.c.name).items()}
    assert names["BillingItemRecorded"] == len(items), "an item's event was lost or doubled"
    assert names["PayoutCreated"] == len(payouts)
    market = Marketplace(lambda rules, clock, fx: app)
    assert_invariants(market)
    report = app.reconcile(TENANT, app.context.now(), checks=("statements", "payouts", "ledger"))
    assert report.clean, report.findings
    rows = proxy.report_rows()
    assert all(proxy.times_executed(r.idempotency_key) == 1 for r in rows)
    paid = Counter(r.payout_id for r in rows if r.status in (Outcome.PAID, Outcome.RETURNED))
    assert all(n == 1 for n in paid.values()), paid
    assert len(statements) > 0 and len(payouts) > 0 and paid, "the run never got to pay"
    rounds: Counter[str] = Counter()
    for _, role, _, result in outcomes:
        rounds[role] += len(result) if role == "ingest" else result["rounds"]
    # The figures docs/reliability.md quotes (shown with pytest -s).
    print(
        f"\n{store.backend}, {len(outcomes)} processes: {len(items)} items,"
        f" {len(statements)} statements, {len(payouts)} payouts, {len(paid)} paid at the bank,"
        f" {sum(r['rejected'] for _, role, _, r in outcomes if role == 'poll')} callbacks"
        f" refused; work per role {dict(rounds)}"
    )
