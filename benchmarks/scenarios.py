"""The library side of each scenario: fresh stores per backend, timed jobs, peak memory.

Every measurement runs on a fresh store (a new SQLite file, a new scratch schema
on PostgreSQL or MariaDB, a new in-memory database) after a small warm-up on a
separate tenant, so SQLAlchemy's statement cache is warm and the timed work
sees empty tables. Only the library calls are timed: building the commands
from the seeded specs happens outside the clock.
"""

from __future__ import annotations

import gc
import resource
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING

import workload
from workload import DataSet, ItemSpec

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.testing import fund_and_release, fund_missing, release_funded
from settlement_core.model import DEFAULT_CHANNEL, ItemKind, RecordBillingItem
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock

if TYPE_CHECKING:
    from sqlalchemy import Engine

BACKENDS = ("memory", "sqlite", "postgresql", "mysql")
SERVERS = ("postgresql", "mysql")
_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class Peak:
    """Peak memory of one job, in MB."""

    growth_mb: float | None  # resident set high-water mark above its size at the start
    process_mb: float | None  # the process's resident set high-water mark during the job
    traced_mb: float | None = None  # tracemalloc's peak of Python allocations (--tracemalloc)
    isolated: bool = False  # measured in a fresh process that ran only this job


@dataclass(frozen=True)
class JobRun:
    """One timed library job."""

    seconds: float
    peak: Peak
    count: int  # items or transactions done


@dataclass(frozen=True)
class CloseRun:
    """close_cycles then create_payouts, timed separately."""

    close_seconds: float
    payout_seconds: float
    statements: int
    payouts: int
    peak: Peak

    @property
    def seconds(self) -> float:
        """Both jobs."""
        return self.close_seconds + self.payout_seconds


def _status_kb(field: str) -> int | None:
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    """Reset VmHWM (Linux >= 4.0), so the next reading is this job's peak."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class MemoryProbe(AbstractContextManager["MemoryProbe"]):
    """Measures a block's peak resident set (growth and absolute) and, optionally, tracemalloc's.

    In a long-lived process the growth is a lower bound: memory freed by earlier
    work is reused before the resident set grows.
    """

    def __init__(self, traced: bool = False, isolated: bool = False) -> None:
        self.traced = traced
        self.isolated = isolated
        self.peak = Peak(None, None)
        self._before_kb: int | None = None
        self._reset = False

    def __enter__(self) -> MemoryProbe:
        gc.collect()
        self._before_kb = _status_kb("VmRSS")
        self._reset = _reset_high_water_mark()
        if self.traced:
            tracemalloc.start()
            tracemalloc.reset_peak()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        traced: float | None = None
        if self.traced:
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        high = _status_kb("VmHWM") if self._reset else None
        if high is None:  # no /proc or no clear_refs: the process's peak so far
            high = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        growth = None if self._before_kb is None else max(0, high - self._before_kb) / 1024
        self.peak = Peak(growth, high / 1024, traced, self.isolated)


@dataclass(frozen=True)
class Store:
    """A Settlement on a fresh store; `path` is the SQLite file, if any."""

    app: Settlement
    path: Path | None = None
    engine: Engine | None = None  # a server's scratch schema, if any


@contextmanager
def library_store(backend: str, workdir: Path, label: str, job_batch: int = 500) -> Iterator[Store]:
    """A Settlement on a fresh, empty store of `backend`, warmed up, at NOW.

    `job_batch` is bootstrap's `batch_size`: statements or accounts per job transaction.
    """
    if backend == "memory":
        app = _settlement("memory://", job_batch)
        warm_up(app)
        yield Store(app)
        return
    if backend == "sqlite":
        with sqlite_store(workdir / f"{label}.sqlite", job_batch, create=True) as store:
            yield store
        return
    from settlement_adapters.sqla.scratch import scratch_schema

    with scratch_schema(backend) as scratch:
        app = _settlement(scratch.engine, job_batch)
        warm_up(app)
        yield Store(app, engine=scratch.engine)


@contextmanager
def sqlite_store(
    path: Path,
    job_batch: int,
    create: bool,
    warm_tenant: str = workload.WARMUP_TENANT,
    days_back: int = 7,
) -> Iterator[Store]:
    """A Settlement on a SQLite file (new, or one an earlier process filled), warmed up."""
    from settlement_adapters.sqla import make_engine

    engine = make_engine(f"sqlite:///{path}")
    try:
        app = _settlement(engine, job_batch, create)
        warm_up(app, warm_tenant, days_back)
        yield Store(app, path)
    finally:
        engine.dispose()


def _settlement(target: str | Engine, job_batch: int, create: bool = False) -> Settlement:
    clock = workload.clock()
    return bootstrap(
        target,
        workload.rules(),
        clock=clock,
        fx=workload.fx(),
        batch_size=job_batch,
        create=create,
        channels=[workload.bank(clock)],
    )


def warm_up(app: Settlement, tenant: str = workload.WARMUP_TENANT, days_back: int = 7) -> None:
    """Run every timed code path once on a separate tenant, dated `days_back` days earlier."""
    app.get_or_create_account(workload.open_account(0, tenant))
    early = workload.DAY0 - timedelta(days=days_back)
    specs = [ItemSpec(n, 0, ItemKind.SALE, 1_000 + n, early + timedelta(hours=n)) for n in range(3)]
    app.record_billing_items([workload.command(s, tenant) for s in specs[:2]])
    app.record_billing_item(workload.command(specs[2], tenant))
    as_of = early + timedelta(days=2)
    app.close_cycles(as_of)
    app.create_payouts(as_of)
    # Payouts are created at the clock's NOW: released as of then. Their callbacks
    # arrive with the timed run's.
    fund_and_release(app, tenant, workload.NOW, "wire")


def refresh_statistics(store: Store) -> None:
    """VACUUM ANALYZE a PostgreSQL store's tables, as autovacuum would during a month of ingest.

    The server here runs with autovacuum off. Without statistics the planner
    guesses from table sizes alone (a parallel scan of every item for a batch's
    recount), and without vacuum no page is all-visible, so no read is served
    by an index alone. Not timed. MariaDB's InnoDB keeps its statistics itself.
    """
    if store.engine is None or store.engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    from settlement_adapters.sqla.migrate import target_schema

    schema = target_schema(store.engine)
    # VACUUM runs outside a transaction only.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        names = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        ).scalars()
        for name in list(names):
            conn.execute(text(f'VACUUM ANALYZE {schema}."{name}"'))


def open_accounts(app: Settlement, data: DataSet) -> None:
    """Open the data set's accounts (setup, not timed)."""
    for account in range(data.accounts):
        app.get_or_create_account(workload.open_account(account))


def batch_ingest(app: Settlement, data: DataSet, batch: int, traced: bool = False) -> JobRun:
    """record_billing_items over the data set, `batch` items per call."""
    seconds = 0.0
    with MemoryProbe(traced) as probe:
        for chunk in data.batches(batch):
            commands = [workload.command(spec) for spec in chunk]
            start = perf_counter()
            app.record_billing_items(commands)
            seconds += perf_counter() - start
    return JobRun(seconds, probe.peak, data.items)


def single_ingest(app: Settlement, data: DataSet, traced: bool = False) -> JobRun:
    """record_billing_item for each item: one transaction per item."""
    seconds = 0.0
    with MemoryProbe(traced) as probe:
        for spec in data.specs():
            cmd = workload.command(spec)
            start = perf_counter()
            app.record_billing_item(cmd)
            seconds += perf_counter() - start
    return JobRun(seconds, probe.peak, data.items)


def concurrent_ingest(
    app: Settlement, data: DataSet, batch: int, workers: int, traced: bool = False
) -> JobRun:
    """record_billing_items from `workers` threads, each taking every workers-th batch.

    Commands are built before the clock starts; the time is the wall time until
    the last thread is done.
    """
    batches = [[workload.command(spec) for spec in chunk] for chunk in data.batches(batch)]
    shares = [batches[n::workers] for n in range(workers)]
    errors: list[BaseException] = []
    start_line = threading.Barrier(workers + 1)

    def work(share: list[list[RecordBillingItem]]) -> None:
        start_line.wait()
        try:
            for commands in share:
                app.record_billing_items(commands)
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    with MemoryProbe(traced) as probe:
        start_line.wait()
        start = perf_counter()
        for thread in threads:
            thread.join()
        seconds = perf_counter() - start
    if errors:
        raise errors[0]
    return JobRun(seconds, probe.peak, data.items)


def close_and_pay(app: Settlement, traced: bool = False, isolated: bool = False) -> CloseRun:
    """close_cycles then create_payouts as of NOW (every statement is due and payable)."""
    with MemoryProbe(traced, isolated) as probe:
        start = perf_counter()
        closed = app.close_cycles(workload.NOW)
        middle = perf_counter()
        paid = app.create_payouts(workload.NOW)
        end = perf_counter()
    return CloseRun(middle - start, end - middle, closed.closed, len(paid.created), probe.peak)


@dataclass(frozen=True)
class ReleaseRun:
    """The jobs from created payouts to the bank, timed one by one (scenario 7)."""

    payouts: int  # released to the channel
    summaries: int
    prepare_seconds: float  # prepare_release
    fund_seconds: float  # the operations report, then record_funding per channel
    release_seconds: float  # release of every funded summary (one submission per payout)
    callbacks: int  # channel callbacks handled (a sample: the first ones due)
    callback_seconds: float

    @property
    def seconds(self) -> float:
        """Prepare, fund and release: what every payout goes through once, in batch jobs."""
        return self.prepare_seconds + self.fund_seconds + self.release_seconds


# Callbacks come one by one, a transaction each: a sample gives the cost of one.
CALLBACK_SAMPLE = 2_000


def release_flow(app: Settlement, callbacks: int = CALLBACK_SAMPLE) -> ReleaseRun:
    """Every created payout summarised, funded, released; then the first callbacks handled."""
    start = perf_counter()
    made = app.prepare_release(workload.NOW)
    prepared = perf_counter()
    fund_missing(app, workload.TENANT, "wire")
    funded = perf_counter()
    released = release_funded(app, workload.TENANT)
    end = perf_counter()
    clock = app.context.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=1))
    due = app.context.channel(DEFAULT_CHANNEL).deliver()[:callbacks]  # type: ignore[attr-defined]
    begin = perf_counter()
    for body, headers in due:
        app.handle_callback(DEFAULT_CHANNEL, body, headers)
    answered = perf_counter() - begin
    return ReleaseRun(
        released,
        len(made),
        prepared - start,
        funded - prepared,
        end - funded,
        len(due),
        answered,
    )


# The settings a figure depends on most: the buffer cache the tables outgrow at 1M
# items, and whether the server analyzes tables by itself.
_SETTINGS = {
    "postgresql": (
        "SHOW server_version",
        "SELECT 'shared_buffers ' || current_setting('shared_buffers')"
        " || ', autovacuum ' || current_setting('autovacuum')",
    ),
    "mysql": (
        "SELECT VERSION()",
        "SELECT CONCAT('innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576, 'MB')",
    ),
}


def server_version(backend: str) -> str:
    """A database server's version and key settings (through a throwaway scratch schema)."""
    from sqlalchemy import text

    from settlement_adapters.sqla.scratch import scratch_schema

    version, settings = _SETTINGS[backend]
    with scratch_schema(backend, tables=False) as scratch, scratch.engine.connect() as conn:
        found = conn.execute(text(version)).scalar_one()
        return f"{found} ({conn.execute(text(settings)).scalar_one()})"
