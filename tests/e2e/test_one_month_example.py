"""The one-month example runs as a user runs it, and accounts for every cent."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "one_month.py"


def test_example_runs_and_conserves_money() -> None:
    """Exit 0; booked = paid out + still on balances, as printed."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--seed", "11"],
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
