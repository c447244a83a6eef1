"""The shipped Alembic migrations build exactly the schema `tables.py` describes, everywhere.

Each test gets an empty SQLite file, PostgreSQL schema or MariaDB database; server
URLs come from SETTLEMENT_TEST_POSTGRES_URL and SETTLEMENT_TEST_MYSQL_URL, and an
unreachable server fails the run, never skips it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, String, func, inspect, select, table, text

from settlement_adapters.sqla import make_engine, metadata
from settlement_adapters.sqla.migrate import (
    MIGRATIONS,
    alembic_config,
    current,
    drift,
    schema_as_default,
    target_schema,
    upgrade,
)
from settlement_adapters.sqla.types import JsonText
from settlement_adapters.testing import empty_store

TABLES = set(metadata.tables)
HEAD = "0012"  # the newest shipped revision


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty schema, without a single table, on one SQL backend."""
    with empty_store(request.param, tmp_path, tables=False) as found:
        assert found is not None
        yield found


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names(schema=target_schema(engine)))


def _indexes(engine: Engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    schema = target_schema(engine)
    return {
        name: {str(ix["name"]) for ix in inspector.get_indexes(name, schema=schema)}
        for name in sorted(TABLES)
    }


def _copy(source: MetaData = metadata) -> MetaData:
    copy = MetaData(naming_convention=source.naming_convention)
    for each in source.tables.values():
        each.to_metadata(copy)
    return copy


def _kinds(diffs: list[Any]) -> list[tuple[str, ...]]:
    """Each difference as (kind, table, object name); modify_* groups flattened."""
    flat: list[tuple[str, ...]] = []
    for diff in diffs:
        if isinstance(diff, list):  # modify_*: [(kind, schema, table, column, ...), ...]
            flat.extend((d[0], d[2], d[3]) for d in diff)
        elif diff[0] in ("add_index", "remove_index"):
            flat.append((diff[0], diff[1].table.name, diff[1].name))
        elif diff[0] in ("add_column", "remove_column"):
            flat.append((diff[0], diff[2], diff[3].name))
        elif diff[0] in ("add_table", "remove_table"):
            flat.append((diff[0], diff[1].name))
        else:
            flat.append((diff[0], repr(diff[1:])))
    return flat


def test_the_migrations_ship_inside_the_package() -> None:
    """script_location is the package directory, and HEAD is the only head."""
    config = alembic_config("sqlite://")
    assert Path(str(config.get_main_option("script_location"))) == MIGRATIONS
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS / "versions" / "0002_channels.py").is_file()
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_an_empty_database_has_no_revision(engine: Engine) -> None:
    """Before the first upgrade there is no version table and no revision."""
    assert current(engine) is None
    assert _tables(engine) == set()


def test_upgrade_builds_the_schema_without_drift(engine: Engine) -> None:
    """After upgrade(), Alembic (types compared) finds nothing between database and tables.py."""
    upgrade(engine)
    assert current(engine) == HEAD
    assert _tables(engine) == TABLES | {"alembic_version"}
    assert drift(engine) == []


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    """A second upgrade() changes nothing: same revision, tables and indexes; one version row."""
    upgrade(engine)
    before = (_tables(engine), _indexes(engine))
    upgrade(engine)
    assert current(engine) == HEAD
    assert (_tables(engine), _indexes(engine)) == before
    version = table("alembic_version", Column("version_num", String(32)))
    version.schema = target_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(version)).scalar_one() == 1
    assert drift(engine) == []


def test_upgrade_then_downgrade_leaves_nothing_behind(engine: Engine) -> None:
    """Downgrading to base (through alembic's own command, on the same engine) drops every table."""
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert current(engine) is None
    assert _tables(engine) == {"alembic_version"}


def test_upgrade_by_url_through_alembic_commands(tmp_path: Path) -> None:
    """env.py also runs on a bare URL, as the `alembic` command line would."""
    url = f"sqlite:///{tmp_path / 'by-url.sqlite'}"
    command.upgrade(alembic_config(url), "head")
    lite = make_engine(url)
    try:
        assert current(lite) == HEAD
        assert drift(lite) == []
    finally:
        lite.dispose()


def test_drift_sees_an_index_the_database_lacks(engine: Engine) -> None:
    """Drop one index from the database: the comparison reports it, and only it."""
    upgrade(engine)
    index = next(
        ix
        for ix in metadata.tables["settlement_payouts"].indexes
        if ix.name == "ix_settlement_payouts_status"
    )
    with engine.begin() as conn:
        index.drop(conn)
    assert _kinds(drift(engine)) == [
        ("add_index", "settlement_payouts", "ix_settlement_payouts_status")
    ]


def test_drift_sees_an_index_the_metadata_lacks(engine: Engine) -> None:
    """An index only the database has is reported too."""
    upgrade(engine)
    copy = _copy()
    outbox = copy.tables["settlement_outbox"]
    outbox.indexes = {ix for ix in outbox.indexes if ix.name != "ix_settlement_outbox_pending"}
    assert _kinds(drift(engine, copy)) == [
        ("remove_index", "settlement_outbox", "ix_settlement_outbox_pending")
    ]


def test_drift_sees_a_column_the_database_lacks(engine: Engine) -> None:
    """A column added to (a copy of) the metadata is reported as missing from the database."""
    upgrade(engine)
    copy = _copy()
    copy.tables["settlement_fundings"].append_column(Column("note", String(64)))
    assert _kinds(drift(engine, copy)) == [("add_column", "settlement_fundings", "note")]


LATER_REVISION = '''"""A later revision with ops Alembic renders itself (ALTER TABLE ... ADD)."""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("settlement_outbox", sa.Column("extra", sa.Integer(), nullable=True))
    op.create_index("ix_settlement_outbox_extra", "settlement_outbox", ["extra"])


def downgrade() -> None:
    op.drop_index("ix_settlement_outbox_extra", table_name="settlement_outbox")
    op.drop_column("settlement_outbox", "extra")
'''.replace("{head}", HEAD)


def test_a_later_revision_with_alters_lands_in_the_same_schema(
    engine: Engine, tmp_path: Path
) -> None:
    """add_column is rendered by Alembic, not translated; it must still hit the target schema."""
    later = tmp_path / "later"
    later.mkdir()
    (later / "9001_extra.py").write_text(LATER_REVISION.replace("{head}", HEAD))
    config = alembic_config(engine)
    config.set_main_option(
        "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(later)])
    )
    command.upgrade(config, "head")
    assert current(engine) == "9001"
    assert sorted(_kinds(drift(engine))) == [
        ("remove_column", "settlement_outbox", "extra"),
        ("remove_index", "settlement_outbox", "ix_settlement_outbox_extra"),
    ]
    command.downgrade(config, HEAD)
    assert current(engine) == HEAD
    assert drift(engine) == []


def test_drift_sees_a_column_the_metadata_lacks(engine: Engine) -> None:
    """A column only the database has (added with the schema made the default) is reported."""
    upgrade(engine)
    with engine.begin() as conn, schema_as_default(conn):
        Operations(MigrationContext.configure(conn)).add_column(
            "settlement_outbox", Column("extra", Integer)
        )
    assert _kinds(drift(engine)) == [("remove_column", "settlement_outbox", "extra")]


def test_drift_compares_types_including_the_custom_ones(engine: Engine) -> None:
    """A changed length and a decorated type swapped for another are both reported."""
    upgrade(engine)
    copy = _copy()
    payouts = copy.tables["settlement_payouts"]
    payouts.c.status.type = String(32)
    payouts.c.created_at.type = JsonText()
    assert sorted(_kinds(drift(engine, copy))) == [
        ("modify_type", "settlement_payouts", "created_at"),
        ("modify_type", "settlement_payouts", "status"),
    ]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"], indirect=True)
def test_drift_sees_lost_fractional_seconds(engine: Engine) -> None:
    """A timestamp column without microseconds in the database is reported (compare_type hook)."""
    upgrade(engine)
    schema = target_schema(engine)
    alter = (
        f"ALTER TABLE {schema}.settlement_payouts ALTER COLUMN created_at TYPE TIMESTAMP(0)"
        if engine.dialect.name == "postgresql"
        else f"ALTER TABLE {schema}.settlement_payouts MODIFY created_at DATETIME NOT NULL"
    )
    with engine.begin() as conn:
        conn.execute(text(alter))
    assert _kinds(drift(engine)) == [("modify_type", "settlement_payouts", "created_at")]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"], indirect=True)
def test_upgrade_leaves_pooled_sessions_as_it_found_them(engine: Engine) -> None:
    """The schema made default for the migrations is not the default afterwards."""
    probe = (
        "SELECT current_setting('search_path')"
        if engine.dialect.name == "postgresql"
        else "SELECT DATABASE()"
    )
    with engine.connect() as conn:
        before = conn.execute(text(probe)).scalar()
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text(probe)).scalar() == before
    assert before != target_schema(engine)


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "postgresql+psycopg://offline/db", "mysql+pymysql://offline/db"],
    ids=["sqlite", "postgresql", "mysql"],
)
def test_offline_mode_writes_the_sql(url: str) -> None:
    """`alembic upgrade --sql` works too: the script has every table, DATETIME(6) on MySQL."""
    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    script = config.output_buffer.getvalue()
    for name in TABLES:
        assert f"CREATE TABLE {name} (" in script
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in script
    assert f"SET version_num='{HEAD}'" in script
    assert ("DATETIME(6)" in script) is url.startswith("mysql")
