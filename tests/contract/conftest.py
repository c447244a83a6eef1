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

from settlement_adapters.testing import empty_store, store_build
from settlement_core.testing.marketplace import ChannelBuild

BACKENDS = ["memory", "sqlite", "postgresql", "mysql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """An empty store on one backend (None for memory)."""
    with empty_store(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def settlement_build(backend: Engine | None) -> ChannelBuild:
    """Builds a Settlement on the backend under test, with the ports given."""
    return store_build(backend)
