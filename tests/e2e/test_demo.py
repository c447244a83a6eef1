"""The demo as a new user runs it (smaller), twice on one database; then the database checks out."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.config import load_config
from settlement_core import PayoutFilter, PayoutStatus
from settlement_core.ports import paged
from settlement_core.testing.invariants import assert_money_invariants

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TENANT = "demo-market"
SIZE = ["--sellers", "40", "--orders", "2500", "--days", "24", "--seed", "3"]


def _run(url: str, reports: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--url", url, "--reports", str(reports), *SIZE],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=os.environ | {"COLUMNS": "160"},  # one table row per line
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _row(output: str, label: str) -> list[str]:
    line = next((x for x in output.splitlines() if f" {label} " in x), None)
    assert line is not None, f"no row {label!r} in\n{output}"
    return [cell.strip() for cell in re.split(r"[│┃]", line)[2:-1]]


def test_demo_pays_sellers_accounts_for_every_cent_and_is_safe_to_rerun(tmp_path: Path) -> None:
    """Exit 0, zero discrepancies, reports written; a re-run replays everything, same summary."""
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    first = _run(url, tmp_path / "reports")
    assert "every cent accounted for" in first
    assert _row(first, "discrepancies")[0] == "0"
    items = int(_row(first, "billing items ingested")[0])
    assert items > 2500  # orders plus their refunds
    assert _row(first, "replayed in this run")[0] == "0"
    assert int(_row(first, "payouts paid")[0]) > 100
    assert int(_row(first, "payouts retried")[0]) > 0
    assert sorted(p.suffix for p in (tmp_path / "reports").iterdir()) == [".csv", ".csv", ".html"]

    second = _run(url, tmp_path / "reports")
    assert _row(second, "replayed in this run")[0] == str(items)
    for label in ("billing items ingested", "payouts paid", "carried on balances"):
        assert _row(second, label) == _row(first, label)

    app = bootstrap(url, load_config(EXAMPLES / "marketplace.toml").rules)
    payouts = list(paged(lambda c: app.query_payouts(PayoutFilter(tenant_id=TENANT), c, 1000)))
    assert {p.currency for p in payouts if p.status is PayoutStatus.PAID} == {"EUR", "USD"}
    assert any(p.approved_by == "ops" for p in payouts)  # the manual sellers'
    # Which payouts the bank fails for good depends on their (random) ids, so the
    # count is checked against the database rather than required to be non-zero.
    failed, returned = (int(n) for n in _row(first, "failed for good / returned")[0].split(" / "))
    assert failed == sum(p.status is PayoutStatus.FAILED_NO_RETRY for p in payouts)
    assert returned == sum(p.status is PayoutStatus.RETURNED for p in payouts)
    held = app.find_account(TENANT, "seller-0006")  # the first seller under review
    assert held is not None and not [p for p in payouts if p.account_id == held.id]
    last = max(p.created_at for p in payouts)
    assert app.reconcile(TENANT, last, dry_run=True).findings == ()
    assert app.verify_journal(TENANT, dry_run=True).broken_at is None
    assert_money_invariants(app, TENANT)
