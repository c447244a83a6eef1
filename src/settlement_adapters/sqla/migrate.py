"""The Alembic migrations shipped with the package: upgrade a database, read its revision, check drift.

Everything runs on the caller's engine, execution options included: an engine made
with ``execution_options(schema_translate_map={None: "tenant_a"})`` is migrated into
``tenant_a``. The translated schema also holds ``alembic_version`` (named explicitly
as the version table's schema, because Alembic looks that table up by name and the
lookup does not go through the translate map).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData
from sqlalchemy.engine import URL, make_url

from settlement_adapters.sqla.tables import metadata

__all__ = ["MIGRATIONS", "alembic_config", "context_options", "current", "drift", "upgrade"]

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
"""The Alembic script directory inside the installed package."""


def alembic_config(engine_or_url: Engine | URL | str) -> Config:
    """An Alembic config for the shipped migrations, aimed at an engine or a URL (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if isinstance(engine_or_url, Engine):
        # env.py prefers the engine itself, so its execution options are kept.
        config.attributes["engine"] = engine_or_url
        url = engine_or_url.url
    else:
        url = make_url(engine_or_url)
    # ConfigParser interpolates "%", and a password may contain one.
    rendered = url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    return config


def target_schema(bind: Engine | Connection) -> str | None:
    """The schema that unqualified tables land in on this bind: its translate map's None entry."""
    translate = bind.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(None)
    return None if schema is None else str(schema)


def context_options(connection: Connection) -> dict[str, Any]:
    """The MigrationContext options the shipped migrations run with on this connection."""
    return {
        "target_metadata": metadata,
        "version_table_schema": target_schema(connection),
        "compare_type": True,
    }


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the engine's database (its translated schema, if any) up to a revision."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    """The revision the engine's database is at, or None before the first migration."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=context_options(connection))
        return context.get_current_revision()


def drift(engine: Engine, target: MetaData = metadata) -> list[Any]:
    """Alembic's differences between the database and ``target`` (types compared); [] if none."""
    schema = target_schema(engine)
    opts = context_options_for_compare(schema)
    if schema is not None:
        # Reflection ignores the translate map, so compare against a copy of the
        # metadata that names the schema outright.
        scoped = MetaData(naming_convention=target.naming_convention)
        for table in target.tables.values():
            table.to_metadata(scoped, schema=schema)
        target = scoped
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, target))


def context_options_for_compare(schema: str | None) -> dict[str, Any]:
    """Options for comparing one schema (None: the default one) with compare_type on."""
    opts: dict[str, Any] = {"compare_type": True, "version_table_schema": schema}
    if schema is not None:

        def only_this_schema(name: str | None, type_: str, parents: dict[str, Any]) -> bool:
            return type_ != "schema" or name == schema

        opts["include_schemas"] = True
        opts["include_name"] = only_this_schema
    return opts
