"""Alembic environment: runs on the connection `migrate.upgrade` hands over, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from settlement_adapters.sqla.engine import make_engine
from settlement_adapters.sqla.migrate import compare_type, context_options, schema_as_default
from settlement_adapters.sqla.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **context_options(connection))
    with schema_as_default(connection), context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the SQL as a script instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        compare_type=compare_type,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run on the caller's connection or engine, else on a fresh engine for the configured URL."""
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        with engine.begin() as connection:
            _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection or engine in config.attributes, and no sqlalchemy.url")
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
