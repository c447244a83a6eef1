"""close_cycles + create_payouts on a SQLite file that run.py filled, alone in a fresh process.

    python benchmarks/closejob.py FILE JOB_BATCH TRACED(0|1)

Prints the CloseRun, then the ReleaseRun of the payouts it created (scenario 7,
after the memory probe), as JSON. A fresh interpreter that only warms up (on
its own tenant) and runs the two jobs gives the peak resident set of the jobs
themselves, not of the benchmark around them. `run_close_job` is the caller's
side.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import scenarios
from scenarios import CloseRun, Peak, ReleaseRun

WARM_TENANT = "bench-warmup-close"


def run_close_job(path: Path, job_batch: int, traced: bool) -> tuple[CloseRun, ReleaseRun]:
    """Run this script on `path` (no other process may hold it) and read its result."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), str(path), str(job_batch), str(int(traced))],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"closejob failed: {done.stderr.strip().splitlines()[-1:]}")
    found = json.loads(done.stdout)
    close = found["close"]
    close["peak"] = Peak(**close["peak"])
    return CloseRun(**close), ReleaseRun(**found["release"])


def main(argv: list[str]) -> int:
    """Warm up, then time and measure the two jobs, then the release of their payouts."""
    path, job_batch, traced = Path(argv[0]), int(argv[1]), argv[2] == "1"
    with scenarios.sqlite_store(path, job_batch, False, WARM_TENANT, days_back=14) as store:
        close = scenarios.close_and_pay(store.app, traced, isolated=True)
        release = scenarios.release_flow(store.app)
    found = {"close": dataclasses.asdict(close), "release": dataclasses.asdict(release)}
    sys.stdout.write(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
