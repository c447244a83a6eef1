"""Revoking a large calculation run (R-ING-8) in bounded batches, on SQLite and PostgreSQL.

    python benchmarks/revocation.py                       # 1M items, SQLite and PostgreSQL
    python benchmarks/revocation.py --items 20000 --backends sqlite --batch 1000

Records `--items` items of one run over `--accounts` accounts (through the
library's batch ingest), then revokes the run one batch per call so every
batch's transaction is timed: the longest one is the longest any lock is held.
Afterwards checks what must hold: every account's items sum to zero, the run
is revoked, and reconciliation finds nothing. Prints one line per backend and
never asserts a speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

from settlement_adapters.bootstrap import bootstrap
from settlement_core.lifecycle import RunStatus
from settlement_core.model import ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import from_minor, to_minor
from settlement_core.rules import Cycle, PayoutRule, RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock

TENANT = "bench-runs"
RUN = "rebate-2025-03"
DAY0 = datetime(2025, 3, 3, tzinfo=UTC)
INGEST_BATCH = 1000


def _rules() -> RuleEngine:
    rules = RuleEngine(default_rule_id="monthly")
    rules.define(PayoutRule(rule_id="monthly", cycle=Cycle.monthly(anchor_day=1)))
    return rules


@contextmanager
def _store(backend: str, workdir: Path) -> Iterator[Settlement]:
    clock = ManualClock(DAY0 + timedelta(days=1))
    if backend == "sqlite":
        from settlement_adapters.sqla import make_engine

        engine = make_engine(f"sqlite:///{workdir / 'revocation.sqlite'}")
        try:
            yield bootstrap(engine, _rules(), clock=clock, create=True)
        finally:
            engine.dispose()
        return
    from settlement_adapters.sqla.scratch import scratch_schema

    with scratch_schema(backend) as scratch:
        yield bootstrap(scratch.engine, _rules(), clock=clock)


def _commands(items: int, accounts: int) -> Iterator[list[RecordBillingItem]]:
    batch: list[RecordBillingItem] = []
    for n in range(items):
        batch.append(
            RecordBillingItem(
                tenant_id=TENANT,
                shop_id=f"shop-{n % accounts}",
                key=f"{RUN}:{n}",
                order_id=f"order-{n}",
                kind=ItemKind.ADJUSTMENT,
                amount=from_minor(100 + n % 900, "USD"),
                occurred_at=DAY0 + timedelta(seconds=n % 86_400),
                run_id=RUN,
            )
        )
        if len(batch) == INGEST_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _measure(backend: str, items: int, accounts: int, batch: int, workdir: Path) -> str:
    with _store(backend, workdir) as app:
        started = perf_counter()
        for n in range(accounts):
            app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id=f"shop-{n}"))
        for chunk in _commands(items, accounts):
            app.record_billing_items(chunk)
        ingest = perf_counter() - started
        durations: list[float] = []
        started = perf_counter()
        while True:
            before = perf_counter()
            report = app.revoke_run(TENANT, RUN, "bench", batch_size=batch, max_batches=1)
            durations.append(perf_counter() - before)
            if report.status is RunStatus.REVOKED:
                break
        revoke = perf_counter() - started
        check = app.reconcile(TENANT, DAY0 + timedelta(days=1), dry_run=True)
        nets = {
            sum(to_minor(m) for m in app.balance(TENANT, account.id).pending.values())
            for account in (app.find_account(TENANT, f"shop-{n}") for n in range(min(accounts, 50)))
            if account is not None
        }
    ordered = sorted(durations)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{backend:<10} items={items:>9,} batch={batch:>5} batches={len(durations):>5} "
        f"ingest={ingest:8.1f}s revoke={revoke:8.1f}s ({items / revoke:8,.0f} items/s) "
        f"longest batch={max(durations) * 1000:7.0f} ms p95={p95 * 1000:7.0f} ms "
        f"reconciliation {'clean' if check.clean else 'NOT CLEAN'}, "
        f"sampled pending balances {sorted(nets)} (expect [0])"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the measurement on each backend and print one line per backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=1_000, help="items per revocation batch")
    parser.add_argument("--backends", default="sqlite,postgresql")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        for backend in options.backends.split(","):
            line = _measure(backend, options.items, options.accounts, options.batch, Path(workdir))
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
