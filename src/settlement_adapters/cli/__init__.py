"""`settlement`: the command line for schedulers and operators.

Every job of the library is a subcommand taking `--as-of`; `--json` prints one
JSON document for cron and CI. Exit codes: 0 done, 1 done but something to
look at (discrepancies, a broken journal chain, schema drift, a statement whose
recount disagrees), 2 wrong command line, 3 bad input or configuration (nothing
stored), 4 a lost race with another writer (run it again), 70 anything else.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from settlement_adapters.cli import database, jobs, operator
from settlement_adapters.cli.billing_file import FORMATS, parse_instant
from settlement_adapters.cli.render import (
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_INPUT,
    Result,
    emit,
    emit_error,
)
from settlement_adapters.cli.session import Session, open_session, read_config
from settlement_core.errors import ConcurrencyConflict, SettlementError
from settlement_core.services.channel_reconcile import Matching

__all__ = ["main", "parser"]

Command = Callable[[Session, argparse.Namespace], Result]
DbCommand = Callable[[argparse.Namespace], Result]

JOBS: dict[str, Command] = {
    "close": jobs.close,
    "payouts": jobs.payouts,
    "prepare-release": jobs.prepare_release,
    "poll": jobs.poll,
    "retry": jobs.retry,
    "expire-freezes": jobs.expire_freezes,
    "seal": jobs.seal,
}


def _as_of(text: str) -> datetime:
    try:
        return parse_instant(text, "--as-of")
    except SettlementError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parser() -> argparse.ArgumentParser:
    """The whole command line."""
    top = argparse.ArgumentParser(prog="settlement", description=__doc__.split("\n", 1)[0])
    top.add_argument("--config", help="TOML configuration (default: ./settlement.toml)")
    top.add_argument("--db", help="database URL (default: $SETTLEMENT_DATABASE_URL or config)")
    top.add_argument("--tenant", help="tenant id (default: the configuration's tenant)")
    top.add_argument("--json", action="store_true", help="print one JSON document")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="create, upgrade or check the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for action, run, summary in (
        ("upgrade", database.upgrade, "create or migrate the tables"),
        ("current", database.current, "the schema's revision"),
        ("check", database.check, "exit 1 if the schema differs"),
    ):
        found = db_commands.add_parser(action, help=summary, parents=[_anywhere()])
        found.set_defaults(db_run=run)
        if action == "upgrade":
            found.add_argument("--revision", default="head")

    opening = _command(commands, "open-account", operator.open_account)
    opening.add_argument("--shop", required=True)
    opening.add_argument("--time-zone", default="UTC")
    opening.add_argument("--attr", action="append", default=[], metavar="NAME=VALUE")
    opening.add_argument("--rule", help="pin a rule (else the segments decide)")
    opening.add_argument("--channel", help="payout channel name")
    opening.add_argument("--method-ref", help="the payee's method (bank account reference)")

    ingest = _command(commands, "ingest", operator.ingest)
    ingest.add_argument("file", help="a .csv or .jsonl file, or - for JSON lines on stdin")
    ingest.add_argument("--format", choices=FORMATS, help="default: by the file's suffix")
    ingest.add_argument("--open-accounts", action="store_true", help="open unknown shops")
    ingest.add_argument("--time-zone", default="UTC", help="for accounts opened here")
    ingest.add_argument("--channel", help="payout channel of accounts opened here")

    for name, function in JOBS.items():
        _command(commands, name, function, as_of=True)
    approve = _command(commands, "approve", jobs.approve, as_of=True)
    approve.add_argument("payout_ids", nargs="+", metavar="PAYOUT_ID")
    approve.add_argument("--by", required=True, help="the approving operator")
    fund = _command(commands, "fund", jobs.fund, as_of=True)
    fund.add_argument("--channel", required=True)
    fund.add_argument("--amount", required=True, help='e.g. "1200.00 USD"')
    fund.add_argument("--reference", required=True, help="the bank transfer's reference")
    release = _command(commands, "release", jobs.release, as_of=True)
    release.add_argument("summary_ids", nargs="*", metavar="SUMMARY_ID", help="default: funded")
    reconcile = _command(commands, "reconcile", jobs.reconcile, as_of=True)
    reconcile.add_argument("--recent", action="store_true", help="only what changed")
    reconcile.add_argument("--dry-run", action="store_true", help="record nothing")
    matched = _command(commands, "reconcile-channel", jobs.reconcile_channel, as_of=True)
    matched.add_argument("--channel", required=True)
    matched.add_argument("--report", type=Path, required=True, help="the channel's report CSV")
    matched.add_argument("--since", type=_as_of, required=True, help="first submission instant")
    matched.add_argument("--until", type=_as_of, required=True, help="end, exclusive")
    matched.add_argument("--matching", choices=[m.value for m in Matching], default="one_to_one")
    matched.add_argument("--amount-tolerance-minor", type=int, default=0)
    matched.add_argument("--date-tolerance-hours", type=float, default=0.0)
    matched.add_argument("--dry-run", action="store_true", help="record nothing")
    verify = _command(commands, "verify", jobs.verify)
    verify.add_argument("--dry-run", action="store_true", help="record nothing")

    for name, function in (("balance", operator.balance), ("statements", operator.statements)):
        shown = _command(commands, name, function)
        shown.add_argument("--shop", required=True)
        if name == "statements":
            shown.add_argument("--limit", type=int, default=20)
    report = _command(commands, "report", operator.report)
    report.add_argument("--out", type=Path, default=Path("reports"))
    trace = _command(commands, "trace", operator.trace)
    trace.add_argument("order_id")
    return top


def _anywhere() -> argparse.ArgumentParser:
    """--json and --tenant may also follow the command (`settlement close --json`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--tenant", default=argparse.SUPPRESS)
    return common


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Command,
    *,
    as_of: bool = False,
) -> argparse.ArgumentParser:
    summary = (run.__doc__ or "").split("\n", 1)[0].removesuffix(".")
    found = commands.add_parser(name, help=summary, description=summary, parents=[_anywhere()])
    found.set_defaults(run=run)
    if as_of:
        found.add_argument(
            "--as-of",
            type=_as_of,
            default=None,
            help="run as of this ISO 8601 instant with offset (default: now)",
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = parser().parse_args(argv)
    try:
        if args.command == "db":
            db_run: DbCommand = args.db_run
            result = db_run(args)
        else:
            session = open_session(args, read_config(args))
            run: Command = args.run
            result = run(session, args)
    except ConcurrencyConflict as exc:
        return emit_error(type(exc).__name__, str(exc), EXIT_CONFLICT, args.json)
    except SettlementError as exc:
        return emit_error(type(exc).__name__, str(exc), EXIT_INPUT, args.json)
    except Exception as exc:
        traceback.print_exc()
        return emit_error(type(exc).__name__, str(exc), EXIT_FAILURE, args.json)
    emit(result, args.json)
    return result.code


if __name__ == "__main__":
    sys.exit(main())
