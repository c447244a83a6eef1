"""The one-month example runs as a user runs it, and accounts for every cent."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "one_month.py"


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_example_runs_and_conserves_money(store: str, tmp_path: Path) -> None:
    """Exit 0; booked = in live payouts + still on balances, as printed; payouts were paid."""
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'june.db'}"
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--seed", "11", "--url", url, "--reports", str(reports)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = re.search(
        r"booked (\S+) USD = in payouts (\S+) USD \+ on balances (\S+) USD", done.stdout
    )
    assert line is not None, done.stdout
    booked, paid, left = (Decimal(x) for x in line.groups())
    assert booked == paid + left
    assert paid > 0
    assert "paid_out" in done.stdout
    states = re.search(r"payouts by state: (.*)", done.stdout)
    assert states is not None and re.search(r"\d+ paid\b", states.group(1)), done.stdout
    assert sorted(p.suffix for p in reports.iterdir()) == [".csv", ".csv", ".html"]
