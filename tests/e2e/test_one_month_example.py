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
    """Exit 0; booked = paid out + still on balances, as printed; only the URL differs."""
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'june.db'}"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--seed", "11", "--url", url],
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
    assert "paid_out" in done.stdout and "created" in done.stdout
