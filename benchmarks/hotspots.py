"""cProfile of SQLite batch ingest and of close + payouts: where the library spends its time.

Runs on its own fresh store, after the timed scenarios, so profiling never
slows a measurement. Keeps the `.prof` files when given a directory (open them
with `python -m pstats FILE` or snakeviz).
"""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path

import scenarios
import workload
from workload import DataSet

PATH_MARKS = ("/src/", "/site-packages/", "/lib/python3")


def _where(filename: str, line: int, function: str) -> str:
    for mark in PATH_MARKS:
        if mark in filename:
            filename = filename.split(mark, 1)[1]
            break
    return f"{filename}:{line}({function})" if line else function


def summarize(title: str, profile: cProfile.Profile, top: int) -> str:
    """The heaviest functions by own time, and the library's heaviest by cumulative time."""
    stats = pstats.Stats(profile)
    table = stats.stats  # type: ignore[attr-defined]
    total = max((entry[3] for entry in table.values()), default=0.0)
    rows = [
        (tt, ct, nc, _where(*key))
        for key, (_cc, nc, tt, ct, _callers) in table.items()
        if isinstance(tt, float)
    ]
    lines = [f"{title}: {total:.2f} s under the profiler", "  by own time:"]
    lines.append(f"    {'own s':>7} {'cum s':>7} {'calls':>9}  function")
    for tt, ct, nc, where in sorted(rows, reverse=True)[:top]:
        lines.append(f"    {tt:7.3f} {ct:7.3f} {nc:9,}  {where}")
    lines.append("  library functions by cumulative time:")
    ours = [r for r in rows if r[3].startswith(("settlement_core/", "settlement_adapters/"))]
    for tt, ct, nc, where in sorted(ours, key=lambda r: r[1], reverse=True)[:top]:
        lines.append(f"    {tt:7.3f} {ct:7.3f} {nc:9,}  {where}")
    return "\n".join(lines)


def profile_sqlite(
    data: DataSet, batch: int, job_batch: int, workdir: Path, keep: Path | None, top: int = 15
) -> str:
    """Profile batch ingest and close + payouts of `data` on a fresh SQLite store."""
    ingest, close = cProfile.Profile(), cProfile.Profile()
    with scenarios.library_store("sqlite", workdir, "profile", job_batch) as store:
        app = store.app
        scenarios.open_accounts(app, data)
        for chunk in data.batches(batch):
            commands = [workload.command(spec) for spec in chunk]
            ingest.enable()
            app.record_billing_items(commands)
            ingest.disable()
        close.enable()
        app.close_cycles(workload.NOW)
        app.create_payouts(workload.NOW)
        close.disable()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        ingest.dump_stats(keep / "sqlite-batch-ingest.prof")
        close.dump_stats(keep / "sqlite-close-payouts.prof")
    size = f"{data.items:,} items, {data.accounts:,} accounts"
    return "\n\n".join(
        [
            summarize(f"SQLite batch ingest ({size})", ingest, top),
            summarize(f"SQLite close_cycles + create_payouts ({size})", close, top),
        ]
    )
