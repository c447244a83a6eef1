"""One CLI run's settlement service, built from the configuration file and the flags."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path

from attrs import frozen

from settlement_adapters.clock import FixedClock, SystemClock
from settlement_adapters.config import Config, load_config, parse_config
from settlement_core import Account, Settlement
from settlement_core.errors import NotFound, ValidationError

CONFIG_ENV = "SETTLEMENT_CONFIG"
DATABASE_ENV = "SETTLEMENT_DATABASE_URL"
DEFAULT_CONFIG = Path("settlement.toml")
# Without a configuration file the CLI still works: one daily rule, no channels.
FALLBACK: dict[str, object] = {"rules": {"daily": {"cycle": "daily"}}}


@frozen
class Session:
    """The service and the defaults a command needs."""

    app: Settlement
    config: Config
    url: str

    def now(self) -> datetime:
        """The instant the command runs as of (--as-of, else the system clock)."""
        return self.app.context.clock.now()

    def tenant(self, args: argparse.Namespace) -> str:
        """--tenant, else the configuration's tenant; ValidationError if neither."""
        tenant: str | None = args.tenant or self.config.tenant
        if tenant is None:
            raise ValidationError("give --tenant (or set tenant in the configuration file)")
        return tenant

    def account(self, args: argparse.Namespace) -> Account:
        """The account of --shop for the tenant; NotFound if it was never opened."""
        tenant = self.tenant(args)
        account = self.app.find_account(tenant, args.shop)
        if account is None:
            raise NotFound(f"no account for shop {args.shop!r} of tenant {tenant!r}")
        return account


def read_config(args: argparse.Namespace) -> Config:
    """--config, else $SETTLEMENT_CONFIG, else ./settlement.toml if present, else defaults."""
    named = args.config or os.environ.get(CONFIG_ENV)
    if named:
        return load_config(Path(named))
    if DEFAULT_CONFIG.exists():
        return load_config(DEFAULT_CONFIG)
    return parse_config(FALLBACK, source="built-in defaults")


def database_url(args: argparse.Namespace, config: Config) -> str:
    """--db, else $SETTLEMENT_DATABASE_URL, else the configuration's database."""
    url: str | None = args.db or os.environ.get(DATABASE_ENV) or config.database
    if not url:
        raise ValidationError(
            f"no database: give --db URL, set {DATABASE_ENV}, or database = in the configuration"
        )
    return url


def open_session(args: argparse.Namespace, config: Config) -> Session:
    """The service over the configured database, with the host's rules and channels.

    A command given `--as-of` runs on a clock standing at that instant, so a job
    re-run for a past night sees and records that night, as its scheduled run would.
    """
    url = database_url(args, config)
    as_of = getattr(args, "as_of", None)
    clock = SystemClock() if as_of is None else FixedClock(as_of)
    return Session(app=config.settlement(url, clock), config=config, url=url)
