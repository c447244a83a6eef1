"""The CLI's database commands: create or upgrade the schema with the shipped migrations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from settlement_adapters.cli.render import EXIT_FINDINGS, EXIT_OK, Result
from settlement_adapters.cli.session import database_url, read_config
from settlement_core.errors import ValidationError

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _engine(args: argparse.Namespace) -> Engine:
    from settlement_adapters.sqla import make_engine

    url = database_url(args, read_config(args))
    if url.startswith("memory://"):
        raise ValidationError("memory:// has no schema to migrate; give a database URL")
    return make_engine(url)


def upgrade(args: argparse.Namespace) -> Result:
    """Create the tables, or migrate them up to --revision (default: the newest)."""
    from settlement_adapters.sqla import migrate

    engine = _engine(args)
    before = migrate.current(engine)
    migrate.upgrade(engine, args.revision)
    return Result({"from": before, "to": migrate.current(engine)})


def current(args: argparse.Namespace) -> Result:
    """The revision the database is at (null before the first migration)."""
    from settlement_adapters.sqla import migrate

    return Result({"revision": migrate.current(_engine(args))})


def check(args: argparse.Namespace) -> Result:
    """Compare the database with what this version expects; exit 1 on any difference."""
    from settlement_adapters.sqla import migrate

    differences = [repr(d) for d in migrate.drift(_engine(args))]
    return Result(
        {"differences": len(differences), "details": differences},
        EXIT_FINDINGS if differences else EXIT_OK,
    )
