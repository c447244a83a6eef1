"""Issue 8's benchmark runner: the library against raw baselines on every backend.

    python benchmarks/run.py --quick      # small sizes, well under a minute
    python benchmarks/run.py --full       # the issue's sizes (1M items), for releases
    nox -s bench [-- --full]

Prints the tables and writes docs/performance.md (unless --no-write). Options
narrow the run (--backends sqlite,memory), change the sizes, add tracemalloc
peaks (--tracemalloc) or profile SQLite ingest and close + payouts (--profile).
Never asserts: a missed target is reported, and an unreachable server is
reported as skipped.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import baselines
import closejob
import floor
import hotspots
import peer
import report
import scenarios
from report import BackendResult, Report, SizeResult
from workload import DataSet

ROOT = Path(__file__).resolve().parent.parent
LAYERS_MAX = 100_000  # the schema-cost breakdown runs at the largest size up to this
PEER_MAX = 300  # python-accounting posts tens of entries a second: enough for a rate


@dataclass(frozen=True)
class Profile:
    """How much work a run does."""

    name: str
    sizes: tuple[int, ...]  # batch ingest + close at each; the largest is the headline
    single: int  # items recorded one by one
    hot: int  # items in each concurrent run of scenario 4 (uniform, then hot seller)


PROFILES = {
    # The library runs at 1-5k items/s on SQL today: 3k items keeps --quick under a minute.
    "quick": Profile("quick", sizes=(1_000, 3_000), single=200, hot=1_600),
    "full": Profile("full", sizes=(10_000, 100_000, 1_000_000), single=20_000, hot=100_000),
}


class Run:
    """One benchmark run: options, a scratch directory, progress on stderr."""

    def __init__(self, options: argparse.Namespace, profile: Profile, workdir: Path) -> None:
        self.options = options
        self.profile = profile
        self.workdir = workdir
        self.started = perf_counter()
        self.runs = 0
        self.raw_cache: dict[tuple[str, int], tuple[float, float, int, float | None]] = {}

    def label(self, name: str) -> str:
        """A unique name for a store's file or log line."""
        self.runs += 1
        return f"{self.runs:03d}-{name}"

    def log(self, message: str) -> None:
        """Progress on stderr, with the time since the start."""
        sys.stderr.write(f"[{perf_counter() - self.started:6.1f}s] {message}\n")
        sys.stderr.flush()

    @property
    def batch(self) -> int:
        """Items per record_billing_items call."""
        value: int = self.options.batch
        return value

    @property
    def hot_batch(self) -> int:
        """Items per call in scenario 4: at most --batch, and at least four calls per thread."""
        workers: int = self.options.workers
        return max(100, min(self.batch, self.profile.hot // (4 * workers)))

    def backend(self, name: str) -> BackendResult:
        """Every scenario on one backend; an error skips the rest of that backend."""
        result = BackendResult(name)
        try:
            for size in self.profile.sizes:
                result.sizes.append(self.ingest_and_close(name, size))
            if name != "memory":
                result.layers = self.schema_layers(name)
            result.single, result.raw_loop, result.floor_loop = self.one_by_one(name)
            result.uniform, result.hot = self.hot_seller(name)
        except Exception as exc:  # a benchmark reports, it does not fail
            traceback.print_exc()
            result.skipped = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            self.log(f"{name}: skipped after an error")
        return result

    def ingest_and_close(self, backend: str, size: int) -> SizeResult:
        """Scenarios 1, 3, 5 and 7 at one size.

        On SQLite the close runs in a fresh process on the file the ingest filled
        (closejob.py), so its peak memory is the jobs' own.
        """
        data = DataSet.sized(self.options.seed, size)
        traced = self.options.tracemalloc
        label = self.label(f"{backend}-{data.label}")
        with scenarios.library_store(backend, self.workdir, label, self.options.job_batch) as store:
            scenarios.open_accounts(store.app, data)
            ingest = scenarios.batch_ingest(store.app, data, self.batch, traced)
            scenarios.refresh_statistics(store)
            if store.path is None:
                close = scenarios.close_and_pay(store.app, traced)
                release = scenarios.release_flow(store.app)
        if store.path is not None:
            close, release = closejob.run_close_job(store.path, self.options.job_batch, traced)
        bulk, group, statements, copy = self.raw_bulk_and_group(backend, data)
        own = None if backend == "memory" else self.schema_floor(backend, data)
        self.log(
            f"{backend} {size:,} items: ingest {report.num(report.rate(size, ingest.seconds))}/s "
            f"(raw {report.num(report.rate(size, bulk))}/s), close + payouts "
            f"{close.seconds:.2f} s (raw GROUP BY {group:.3f} s), to the bank "
            f"{release.seconds:.2f} s for {release.payouts:,} payouts"
        )
        return SizeResult(
            size,
            data.accounts,
            ingest,
            close,
            bulk,
            group,
            statements,
            raw_copy=copy,
            floor=own,
            release=release,
        )

    def schema_floor(self, backend: str, data: DataSet, loop: bool = False) -> float:
        """The library's own rows through the driver at this size: batches, or a tx per item."""
        key = (f"floor-{'loop' if loop else 'batch'}-{backend}", data.items)
        if key not in self.raw_cache:
            label = self.label(f"{backend}-floor-{data.label}")
            with floor.schema_floor(backend, self.workdir, label, data) as db:
                seconds = db.loop(data) if loop else db.batch(data, self.batch)
            self.raw_cache[key] = (seconds, 0.0, 0, None)
        return self.raw_cache[key][0]

    def schema_layers(self, backend: str) -> report.Layers:
        """The own-schema floor built up kind of row by kind of row, at a size up to 100k."""
        size = max([n for n in self.profile.sizes if n <= LAYERS_MAX] or [min(self.profile.sizes)])
        data = DataSet.sized(self.options.seed, size)
        seconds = []
        for name, parts in floor.LAYERS:
            if parts == floor.FULL:
                seconds.append((name, self.schema_floor(backend, data)))
                continue
            label = self.label(f"{backend}-layer{parts}-{data.label}")
            with floor.schema_floor(backend, self.workdir, label, data) as db:
                seconds.append((name, db.batch(data, self.batch, parts)))
        bare = self.raw_bulk_and_group(backend, data)[0]
        return report.Layers(size, bare, tuple(seconds))

    def raw_bulk_and_group(
        self, backend: str, data: DataSet
    ) -> tuple[float, float, int, float | None]:
        """Median raw executemany and GROUP BY (and COPY on PostgreSQL) at this size."""
        dialect = "sqlite" if backend == "memory" else backend
        key = (dialect, data.items)
        if key not in self.raw_cache:
            bulks, groups, copies = [], [], []
            statements = 0
            label = self.label(f"{dialect}-{data.label}")
            with baselines.raw_db(dialect, self.workdir, label) as db:
                for _ in range(baselines.REPEATS):
                    db.empty()
                    bulks.append(db.bulk(data, self.batch))
                    groups.append(db.group_by())
                    statements = db.count("bench_totals")
                    if dialect == "postgresql":
                        db.empty()
                        copies.append(db.copy(data, self.batch))
            copy = baselines.median(copies) if copies else None
            self.raw_cache[key] = (
                baselines.median(bulks),
                baselines.median(groups),
                statements,
                copy,
            )
        return self.raw_cache[key]

    def one_by_one(self, backend: str) -> tuple[scenarios.JobRun, float, float | None]:
        """Scenario 2: record_billing_item per item vs the raw one-transaction loop."""
        data = DataSet.sized(self.options.seed + 1, self.profile.single)
        label = self.label(f"{backend}-single")
        with scenarios.library_store(backend, self.workdir, label, self.options.job_batch) as store:
            scenarios.open_accounts(store.app, data)
            single = scenarios.single_ingest(store.app, data, self.options.tracemalloc)
        dialect = "sqlite" if backend == "memory" else backend
        key = (f"loop-{dialect}", data.items)
        if key not in self.raw_cache:
            loops = []
            for n in range(baselines.REPEATS):
                with baselines.raw_db(
                    dialect, self.workdir, self.label(f"{dialect}-loop-{n}")
                ) as db:
                    loops.append(db.loop(data))
            self.raw_cache[key] = (baselines.median(loops), 0.0, 0, None)
        raw = self.raw_cache[key][0]
        own = None if backend == "memory" else self.schema_floor(backend, data, loop=True)
        self.log(
            f"{backend} one by one: {report.num(report.rate(data.items, single.seconds))} tx/s "
            f"(raw {report.num(report.rate(data.items, raw))} tx/s)"
        )
        return single, raw, own

    def hot_seller(self, backend: str) -> tuple[scenarios.JobRun, scenarios.JobRun]:
        """Scenario 4: concurrent batch ingest, uniform, then half of the items on one account."""
        found = []
        batch = self.hot_batch
        for hot in (False, True):
            data = DataSet.sized(self.options.seed, self.profile.hot, hot=hot)
            label = self.label(f"{backend}-{data.label}-x{self.options.workers}")
            with scenarios.library_store(
                backend, self.workdir, label, self.options.job_batch
            ) as store:
                scenarios.open_accounts(store.app, data)
                found.append(
                    scenarios.concurrent_ingest(
                        store.app, data, batch, self.options.workers, self.options.tracemalloc
                    )
                )
        uniform, hot_run = found
        self.log(
            f"{backend} {self.options.workers} workers: uniform "
            f"{report.num(report.rate(uniform.count, uniform.seconds))}/s, hot seller "
            f"{report.num(report.rate(hot_run.count, hot_run.seconds))}/s"
        )
        return uniform, hot_run


def server_versions(backends: Sequence[str], log: Callable[[str], None]) -> dict[str, str]:
    """Server versions of the backends that answer."""
    found = {}
    for backend in backends:
        if backend in scenarios.SERVERS:
            try:
                found[backend] = scenarios.server_version(backend)
            except Exception as exc:  # reported as skipped by the scenarios themselves
                log(f"{backend}: no server version ({type(exc).__name__})")
    return found


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", dest="mode", action="store_const", const="quick")
    which.add_argument("--full", dest="mode", action="store_const", const="full")
    parser.add_argument(
        "--backends",
        default=",".join(scenarios.BACKENDS),
        help="comma-separated subset of memory,sqlite,postgresql,mysql",
    )
    parser.add_argument("--sizes", help="comma-separated item counts for scenarios 1, 3, 5")
    parser.add_argument("--single", type=int, help="items recorded one by one (scenario 2)")
    parser.add_argument("--hot", type=int, help="items in the hot-seller run (scenario 4)")
    parser.add_argument("--batch", type=int, default=2_000, help="items per batch call")
    parser.add_argument(
        "--job-batch", type=int, default=500, help="bootstrap batch_size for the jobs"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="threads ingesting in the hot-seller scenario"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python's peak")
    parser.add_argument(
        "--profile",
        dest="profile_dir",
        nargs="?",
        const="",
        metavar="DIR",
        help="cProfile SQLite ingest and close + payouts (keep .prof files in DIR)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    options = parser.parse_args(argv)
    options.mode = options.mode or "quick"
    return options


def profile_of(options: argparse.Namespace) -> Profile:
    """The named profile with any sizes given on the command line."""
    base = PROFILES[options.mode]
    sizes = tuple(int(s) for s in options.sizes.split(",")) if options.sizes else base.sizes
    name = base.name if not (options.sizes or options.single or options.hot) else "custom"
    return Profile(
        name,
        sizes=sizes,
        single=options.single or base.single,
        hot=options.hot or (max(sizes) if options.sizes else base.hot),
    )


def main(argv: Sequence[str]) -> int:
    """Run every scenario, print the tables, write docs/performance.md."""
    options = parse(argv)
    profile = profile_of(options)
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]
    unknown = set(backends) - set(scenarios.BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="settlement-bench-") as tmp:
        run = Run(options, profile, Path(tmp))
        run.log(f"profile {profile.name}: sizes {profile.sizes}, backends {', '.join(backends)}")
        servers = server_versions(backends, run.log)
        results = [run.backend(name) for name in backends]
        peer_rate = None
        if "sqlite" in backends and peer.available():
            count = min(profile.single, PEER_MAX)
            run.log(f"python-accounting: {count:,} journal entries, one transaction each")
            peer_rate = peer.postings_per_second(Path(tmp) / "peer.sqlite", count)
        hot = ""
        if options.profile_dir is not None:
            run.log("profiling SQLite batch ingest and close + payouts")
            keep = Path(options.profile_dir) if options.profile_dir else None
            data = DataSet.sized(options.seed, max(profile.sizes))
            hot = hotspots.profile_sqlite(data, run.batch, options.job_batch, Path(tmp), keep)
        outcome = Report(
            profile=profile.name,
            machine=report.machine(servers),
            batch=run.batch,
            job_batch=options.job_batch,
            workers=options.workers,
            hot_batch=run.hot_batch,
            seed=options.seed,
            backends=results,
            wall_seconds=perf_counter() - run.started,
            hotspots=hot,
            peer_rate=peer_rate,
        )
    sys.stdout.write(report.text(outcome))
    if hot:
        sys.stdout.write("\n" + hot + "\n")
    if not options.no_write:
        command = "python benchmarks/run.py " + shlex.join(argv)
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(report.markdown(outcome, command.strip()))
        sys.stdout.write(f"\nwrote {options.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
