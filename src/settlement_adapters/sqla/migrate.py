"""The Alembic migrations shipped with the package: upgrade, read the revision, check drift.

Everything runs on the caller's engine, execution options included: an engine made
with ``execution_options(schema_translate_map={None: "tenant_a"})`` is migrated into
``tenant_a``. Three things make that hold:

* ops built from Table objects (create_table, create_index, drop_table, ...) go
  through the translate map like any other statement;
* ops Alembic renders itself (add_column, alter_column, drop_constraint, ...) do not,
  so while migrations run, the translated schema is also the session's default one
  (PostgreSQL: a transaction-local ``search_path``; MySQL/MariaDB: ``USE``, undone after);
* ``alembic_version`` is placed in that schema explicitly (``version_table_schema``),
  because Alembic looks that table up by name, outside the translate map.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.types import TypeEngine

from settlement_adapters.sqla.tables import metadata

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "compare_type",
    "context_options",
    "current",
    "drift",
    "schema_as_default",
    "target_schema",
    "upgrade",
]

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
"""The Alembic script directory inside the installed package."""

_ARGUMENTS = re.compile(r"\(([^)]*)\)")


def alembic_config(engine_or_url: Engine | URL | str) -> Config:
    """An Alembic config for the shipped migrations, aimed at an engine or a URL; no .ini needed."""
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


@contextmanager
def schema_as_default(connection: Connection) -> Iterator[None]:
    """Make the connection's translated schema its session default for a while (else no-op)."""
    schema = target_schema(connection)
    backend = connection.dialect.name
    if schema is None or backend not in ("postgresql", "mysql", "mariadb"):
        yield
        return
    quoted = connection.dialect.identifier_preparer.quote_schema(schema)
    if backend == "postgresql":
        previous = connection.execute(text("SELECT current_setting('search_path')")).scalar_one()
        set_path = text("SELECT set_config('search_path', :path, true)")  # transaction-local
        connection.execute(set_path, {"path": quoted})
        yield  # on an error the transaction rolls back, and the setting with it
        connection.execute(set_path, {"path": previous})
        return
    previous = connection.execute(text("SELECT DATABASE()")).scalar()
    connection.exec_driver_sql(f"USE {quoted}")
    try:
        yield
    finally:
        if previous is None:
            # No database to go back to: recycle the DBAPI connection instead of reusing it.
            connection.connection.invalidate(soft=True)
        else:
            previous_quoted = connection.dialect.identifier_preparer.quote_schema(str(previous))
            connection.exec_driver_sql(f"USE {previous_quoted}")


def compare_type(
    context: MigrationContext,
    inspected_column: Column[Any],
    metadata_column: Column[Any],
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """Alembic's compare_type hook: differing type arguments count, then Alembic's own check."""
    # Alembic only compares arguments both sides state, so DATETIME in the database
    # passes for UtcDateTime's DATETIME(6) on MySQL, and TIMESTAMP(0) for TIMESTAMP on
    # PostgreSQL: microseconds lost, no drift reported. Compare what each side compiles
    # to on this dialect (a TypeDecorator compiles to its dialect impl, a variant to its
    # dialect's type) and call any difference in arguments a difference. Integer types
    # are left alone: their only argument is MySQL's display width, which reflection
    # adds (BIGINT(20), TINYINT(1) for BOOL) and the metadata never states.
    if isinstance(inspected_type, Integer):
        return None
    compiler = context.dialect.type_compiler_instance
    expected = _arguments(compiler.process(metadata_type, type_expression=metadata_column))
    found = _arguments(compiler.process(inspected_type, type_expression=inspected_column))
    if expected != found:
        return True
    return None  # same arguments: Alembic compares the type names and synonyms


def _arguments(compiled: str) -> str:
    match = _ARGUMENTS.search(compiled)
    return "" if match is None else "".join(match.group(1).split()).lower()


def context_options(connection: Connection) -> dict[str, Any]:
    """The MigrationContext options the shipped migrations run with on this connection."""
    return {
        "target_metadata": metadata,
        "version_table_schema": target_schema(connection),
        "compare_type": compare_type,
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
    opts = _compare_options(schema)
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


def _compare_options(schema: str | None) -> dict[str, Any]:
    # Compare one schema (None: the default one), types included.
    opts: dict[str, Any] = {"compare_type": compare_type, "version_table_schema": schema}
    if schema is not None:

        def only_this_schema(name: str | None, type_: str, parents: dict[str, Any]) -> bool:
            return type_ != "schema" or name == schema

        opts["include_schemas"] = True
        opts["include_name"] = only_this_schema
    return opts
