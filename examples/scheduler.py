"""Running the library's jobs from a scheduler: APScheduler in-process, or plain cron.

Run: SETTLEMENT_CONFIG=examples/marketplace.toml python examples/scheduler.py
     python examples/scheduler.py --crontab     # the same schedule as crontab lines

`SCHEDULE` is the one list of jobs and when they run; both wirings read it.
Every job is idempotent and safe to run twice or to overlap with itself on
another machine (SQL jobs lock the rows they take with SKIP LOCKED), so a missed
run is simply caught up by the next one. The tenant-wide jobs (reconciliation,
the journal chain) run once per tenant the host serves.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from attrs import frozen

from settlement_adapters.clock import SystemClock
from settlement_adapters.config import load_config
from settlement_core import Settlement


@frozen
class Job:
    """One job: its name, its cron schedule (UTC), and what it does at an instant."""

    name: str
    cron: str  # minute hour day-of-month month day-of-week
    run: Callable[[Settlement, str, datetime], object]  # (app, tenant, now)
    per_tenant: bool = False  # else one run serves every tenant
    command: str = ""  # the `settlement` subcommand, when it is not the name

    def __call__(self, app: Settlement, tenant: str) -> object:
        """Run the job now (the scheduler calls this)."""
        return self.run(app, tenant, app.context.clock.now())


SCHEDULE: tuple[Job, ...] = (
    Job("close", "5 0 * * *", lambda app, _, now: app.close_cycles(now)),
    Job("payouts", "15 0 * * *", lambda app, _, now: app.create_payouts(now)),
    Job("prepare-release", "30 0 * * *", lambda app, _, now: app.prepare_release(now)),
    Job("poll", "*/10 * * * *", lambda app, _, now: app.poll_channels(now)),
    Job("retry", "*/10 * * * *", lambda app, _, now: app.retry_failed_payouts(now)),
    Job("expire-freezes", "0 * * * *", lambda app, _, now: app.expire_freezes(now)),
    Job(
        "reconcile-recent",
        "*/15 * * * *",
        lambda app, tenant, now: app.reconcile_recent(tenant, now),
        per_tenant=True,
        command="reconcile --recent",
    ),
    Job(
        "reconcile",
        "30 2 * * *",
        lambda app, tenant, now: app.reconcile(tenant, now),
        per_tenant=True,
    ),
    Job("seal", "45 2 * * *", lambda app, tenant, _: app.seal_journal(tenant), per_tenant=True),
    Job("verify", "50 2 * * *", lambda app, tenant, _: app.verify_journal(tenant), per_tenant=True),
)


class Scheduler(Protocol):
    """The part of APScheduler's scheduler API used here (its package ships no types)."""

    def add_job(self, func: Callable[..., object], trigger: object, **options: Any) -> object:
        """Register a job."""
        ...


def _runs(tenants: Sequence[str]) -> list[tuple[Job, str]]:
    return [(job, t) for job in SCHEDULE for t in (tenants if job.per_tenant else tenants[:1])]


def crontab(config: str, tenants: Sequence[str]) -> str:
    """The schedule as crontab lines calling the `settlement` command."""
    lines = ["# m h dom mon dow  command"]
    for job, tenant in _runs(tenants):
        flag = f" --tenant {tenant}" if job.per_tenant else ""
        command = job.command or job.name
        lines.append(f"{job.cron}  settlement --config {config}{flag} --json {command}")
    return "\n".join(lines) + "\n"


def add_jobs(scheduler: Scheduler, app: Settlement, tenants: Sequence[str]) -> None:
    """Register every job with an APScheduler scheduler, on cron triggers in UTC."""
    from apscheduler.triggers.cron import CronTrigger

    for job, tenant in _runs(tenants):
        scheduler.add_job(
            job,
            CronTrigger.from_crontab(job.cron, timezone="UTC"),
            args=(app, tenant),
            id=f"{job.name}:{tenant}" if job.per_tenant else job.name,
            max_instances=1,  # a slow night's run is not overlapped by the next
            coalesce=True,  # after downtime, one catch-up run instead of many
            replace_existing=True,
        )


def main() -> int:
    """Print the crontab, or run the jobs in-process with APScheduler until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--crontab", action="store_true", help="print crontab lines and exit")
    parser.add_argument("--tenant", action="append", default=[], help="tenants served")
    options = parser.parse_args()
    path = os.environ.get("SETTLEMENT_CONFIG", "settlement.toml")
    config = load_config(Path(path))
    tenants = options.tenant or [config.tenant or "default"]
    if options.crontab:
        print(crontab(path, tenants), end="")
        return 0
    from apscheduler.schedulers.blocking import BlockingScheduler

    app = config.settlement(config.database or "memory://", SystemClock())
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, app, tenants)
    scheduler.start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
