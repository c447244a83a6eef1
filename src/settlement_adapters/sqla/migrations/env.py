"""Alembic environment: runs on the connection `migrate.upgrade` hands over, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from settlement_adapters.sqla.engine import make_engine
from settlement_adapters.sqla.migrate import context_options
from settlement_adapters.sqla.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **context_options(connection))
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the SQL as a script instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run on the caller's connection, or on a fresh engine for the configured URL."""
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
