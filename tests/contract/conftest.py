"""The backends every contract suite runs on: memory, SQLite, PostgreSQL, MySQL/MariaDB.

Each test gets an empty store of its own: a fresh memory database, a new SQLite
file, or a schema (PostgreSQL) / database (MariaDB) created for it and dropped
after. Server URLs come from SETTLEMENT_TEST_POSTGRES_URL and
SETTLEMENT_TEST_MYSQL_URL; an unreachable server fails the run, never skips it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from settlement_adapters.sqla import create_schema, make_engine
from settlement_adapters.sqla.scratch import scratch_schema
from settlement_adapters.testing import store_build
from settlement_core.testing.marketplace import ChannelBuild

BACKENDS = ["memory", "sqlite", "postgresql", "mysql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """An empty store on one backend (None for memory)."""
    name = request.param
    if name == "memory":
        yield None
    elif name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'settlement.db'}")
        create_schema(engine)
        yield engine
        engine.dispose()
    else:
        with scratch_schema(name) as scratch:
            yield scratch.engine


@pytest.fixture
def settlement_build(backend: Engine | None) -> ChannelBuild:
    """Builds a Settlement on the backend under test, with the ports given."""
    return store_build(backend)
