"""The `settlement` command as cron and an operator use it: one process per step, JSON out.

A fresh SQLite file is migrated, a CSV of orders and refunds is ingested (twice:
the second run replays), and the jobs run in a scheduler's order through a
bank that fails every first attempt. Afterwards the database is opened directly:
reconciliation finds nothing and every cent is accounted for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_bank import FileBank

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.channels import write_report
from settlement_adapters.clock import SystemClock
from settlement_adapters.config import load_config
from settlement_adapters.sqla import make_engine
from settlement_adapters.testing import Tamper
from settlement_core import PayoutFilter, PayoutStatus, Settlement, StatementFilter
from settlement_core.ports import paged
from settlement_core.testing.invariants import assert_money_invariants

HERE = Path(__file__).resolve().parent
TENANT = "acme"
CONFIG = """
tenant = "acme"
database = "sqlite:///{db}"
default_rule = "weekly"

[rules.weekly]
cycle = "weekly"
threshold = "20.00 USD"

[rules.manual]
cycle = "weekly"
auto_payment = false

[[segments]]
rule = "manual"
match = {{ seller_type = "hobby" }}

[channels.bank]
factory = "cli_bank:FileBank"
records = "{records}"
"""
ORDERS = [
    # shop, order, kind, amount, day of June 2025
    ("books", "o-1", "sale", "120.00", 2),
    ("books", "o-2", "sale", "35.50", 3),
    ("books", "o-1", "refund", "-20.00", 10),
    ("bikes", "o-3", "sale", "899.99", 4),
    ("bikes", "o-4", "sale", "15.00", 11),
    ("crumbs", "o-5", "sale", "4.99", 5),  # below the threshold: carried forward
]


def _csv(rows: list[tuple[str, str, str, str, int]]) -> str:
    lines = ["shop_id,key,order_id,kind,amount,currency,occurred_at"]
    for shop, order, kind, amount, day in rows:
        lines.append(f"{shop},{order}:{kind},{order},{kind},{amount},USD,2025-06-{day:02d}T10:00Z")
    return "\n".join(lines) + "\n"


class Cli:
    """Runs `settlement --json ...` in a subprocess, as a scheduler would."""

    def __init__(self, folder: Path) -> None:
        self.config = folder / "settlement.toml"
        self.db = folder / "settlement.db"
        records = folder / "bank.jsonl"
        self.config.write_text(CONFIG.format(db=self.db, records=records))
        script = Path(sys.executable).with_name("settlement")
        self.command = (
            [str(script)] if script.exists() else [sys.executable, "-m", "settlement_adapters.cli"]
        )
        self.env = os.environ | {"PYTHONPATH": str(HERE)}
        self.folder = folder

    def __call__(self, *args: str, code: int = 0) -> Any:
        done = subprocess.run(
            [*self.command, "--config", str(self.config), "--json", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            check=False,
            timeout=120,
        )
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return json.loads(done.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A configuration, a database path and a bank file in a fresh folder."""
    return Cli(tmp_path)


def test_a_month_through_the_cli_leaves_every_cent_accounted_for(cli: Cli, tmp_path: Path) -> None:
    """Migrate, ingest, the jobs in order, reports and queries; then the database checks out."""
    assert cli("db", "upgrade")["from"] is None
    assert cli("db", "current")["revision"] is not None
    assert cli("db", "check")["differences"] == 0
    assert (
        cli("open-account", "--shop", "hobby", "--attr", "seller_type=hobby", "--channel", "bank")[
            "rule"
        ]
        == "manual"
    )
    orders = tmp_path / "orders.csv"
    orders.write_text(_csv(ORDERS))
    first = cli("ingest", str(orders), "--open-accounts", "--channel", "bank")
    assert (first["recorded"], first["replayed"], first["accounts_opened"]) == (6, 0, 3)
    again = cli("ingest", str(orders), "--open-accounts", "--channel", "bank")
    assert (again["recorded"], again["replayed"], again["accounts_opened"]) == (0, 6, 0)
    hobby = tmp_path / "hobby.jsonl"
    row = {"shop_id": "hobby", "key": "o-6:sale", "order_id": "o-6", "kind": "sale"}
    hobby.write_text(
        json.dumps(
            row | {"amount": 42.10, "currency": "USD", "occurred_at": "2025-06-06T12:00:00+02:00"}
        )
        + "\n"
    )
    assert cli("ingest", str(hobby))["recorded"] == 1

    as_of = "2025-06-16T00:00:00Z"
    assert cli("close", "--as-of", as_of)["closed"] == 6
    made = cli("payouts", "--as-of", as_of)
    assert (made["created"], made["carried"]) == (3, 1)
    waiting = PayoutFilter(tenant_id=TENANT, status=PayoutStatus.PENDING_APPROVAL)
    manual = [p.id for p in paged(lambda c: _app(cli).query_payouts(waiting, c, 100))]
    assert len(manual) == 1
    assert cli("approve", *manual, "--by", "ops", "--as-of", as_of)["approved"] == 1
    assert cli("prepare-release", "--as-of", as_of)["summaries"] == 1
    assert Path(cli("report", "--out", str(tmp_path / "r"))["page_html"]).exists()
    to_fund = _to_fund(tmp_path / "r")
    wire = ("fund", "--channel", "bank", "--amount", f"{to_fund} USD", "--reference", "w-1")
    funded = cli(*wire, "--as-of", as_of)
    assert len(funded["funded_summaries"]) == 1
    assert cli(*wire, "--as-of", as_of)["replayed"]
    assert cli("release", "--as-of", as_of)["released"] == 1
    assert cli("retry", "--as-of", "2025-06-16T00:05:00Z")["sent"] == 0  # backoff not over
    assert cli("retry", "--as-of", "2025-06-16T01:00:00Z")["sent"] == 3
    assert cli("poll", "--as-of", "2025-06-17T00:00:00Z")["changed"] == 0

    found = cli("reconcile", "--as-of", "2025-06-16T01:00:00Z")
    assert found["discrepancies"] == 0, found
    bank = FileBank(name="bank", clock=SystemClock(), records=str(tmp_path / "bank.jsonl"))
    write_report(bank.report(), tmp_path / "bank-report.csv")
    window = ("--since", "2025-06-15T00:00:00Z", "--until", "2025-06-17T00:00:00Z")
    matched = (
        "reconcile-channel",
        "--channel",
        "bank",
        "--report",
        str(tmp_path / "bank-report.csv"),
    )
    assert cli(*matched, *window, "--as-of", "2025-06-17T00:00:00Z")["discrepancies"] == 0
    lines = (tmp_path / "bank-report.csv").read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join(lines[:-1]) + "\n")  # the bank lost a row
    short = ("reconcile-channel", "--channel", "bank", "--report", str(tmp_path / "short.csv"))
    missing = cli(*short, *window, "--dry-run", "--as-of", "2025-06-17T00:00:00Z", code=1)
    assert missing["by_kind"] == {"missing_at_channel": 1}, missing
    assert cli("seal")["sealed"] > 0
    assert cli("verify")["intact"] is True
    books = cli("balance", "--shop", "books")
    assert books["pending"] == {} and books["available"] == {}
    crumbs = cli("balance", "--shop", "crumbs")
    assert crumbs["available"] == {"USD": {"amount": "4.99", "currency": "USD"}}
    statements = cli("statements", "--shop", "books")
    assert [s["status"] for s in statements["statements"]] == ["paid_out", "paid_out"]
    trace = cli("trace", "o-1")
    assert {step["what"] for step in trace["timeline"]} >= {"item", "statement", "payout"}
    assert trace["items"] == 2

    app = _app(cli)
    paid = list(paged(lambda c: app.query_payouts(PayoutFilter(tenant_id=TENANT), c, 100)))
    assert sorted(p.status.value for p in paid) == ["paid"] * 3
    assert all(p.attempts == 2 for p in paid)
    assert app.reconcile(TENANT, paid[0].created_at, dry_run=True).findings == ()
    assert_money_invariants(app, TENANT)


def test_bad_input_stores_nothing_and_says_why(cli: Cli, tmp_path: Path) -> None:
    """A bad row fails the whole file with exit 3 and its line; a bad flag is exit 2."""
    cli("db", "upgrade")
    orders = tmp_path / "orders.csv"
    text = _csv(ORDERS[:2]) + "books,o-9:sale,o-9,sale,1.999,USD,2025-06-02T10:00Z\n"
    orders.write_text(text)
    error = cli("ingest", str(orders), "--open-accounts", code=3)
    assert error["error"] == "ValidationError" and "orders.csv:4" in error["message"]
    assert cli("balance", "--shop", "books", code=3)["error"] == "NotFound"
    floats = tmp_path / "naive.jsonl"
    floats.write_text(
        '{"shop_id": "x", "key": "k", "order_id": "o", "kind": "sale", '
        '"amount": "1.00", "currency": "USD", "occurred_at": "2025-06-02T10:00"}\n'
    )
    assert "UTC offset" in cli("ingest", str(floats), code=3)["message"]
    done = subprocess.run(
        [*cli.command, "close", "--as-of", "yesterday"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "ISO 8601" in done.stderr
    after = [*cli.command, "--config", str(cli.config), "seal", "--tenant", "other", "--json"]
    trailing = subprocess.run(after, capture_output=True, text=True, check=False, env=cli.env)
    assert json.loads(trailing.stdout) == {"sealed": 0, "tenant": "other"}  # flags after it too


def test_reconcile_exits_1_when_money_is_off(cli: Cli, tmp_path: Path) -> None:
    """A statement total changed behind the library's back: exit 1 and the finding in JSON."""
    cli("db", "upgrade")
    orders = tmp_path / "orders.csv"
    orders.write_text(_csv(ORDERS))
    cli("ingest", str(orders), "--open-accounts", "--channel", "bank")
    app = _app(cli)
    account = app.find_account(TENANT, "books")
    assert account is not None
    where = StatementFilter(tenant_id=TENANT, account_id=account.id)
    statement = app.query_statements(where).items[0]
    Tamper(app, make_engine(f"sqlite:///{cli.db}")).add_to_statement_total(statement.id, 1)
    found = cli("reconcile", code=1)
    assert found["discrepancies"] >= 1
    assert statement.id in {s for f in found["findings"] for s in f["subjects"]}


def _app(cli: Cli) -> Settlement:
    config = load_config(cli.config)
    return bootstrap(f"sqlite:///{cli.db}", config.rules)


def _to_fund(folder: Path) -> str:
    rows = next(folder.glob("*-channels.csv")).read_text().splitlines()
    header, line = rows[0].split(","), rows[1].split(",")
    return line[header.index("to_fund")]
