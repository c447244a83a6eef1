"""Throwaway schemas on a database server, for tests and trials of an adapter.

Each scratch schema (PostgreSQL) or database (MySQL/MariaDB) is created on
entry and dropped on exit; the engine it yields places every table there
through `schema_translate_map`. Third-party tests can use it to run the
contract suites against their own server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from attrs import frozen
from sqlalchemy import Engine, text

from settlement_adapters.sqla.engine import create_schema, make_engine

SERVER_URLS = {
    "postgresql": os.environ.get(
        "SETTLEMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get(
        "SETTLEMENT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}


@frozen
class Scratch:
    """A scratch schema: its engine, and how another process can reach it."""

    backend: str
    url: str
    schema: str
    engine: Engine


@contextmanager
def scratch_schema(
    backend: str, *, tables: bool = True, **engine_options: Any
) -> Iterator[Scratch]:
    """A new empty schema on `backend` ("postgresql" or "mysql"), dropped afterwards.

    `tables=True` creates the settlement tables in it. An unreachable server
    raises: the caller's tests fail rather than skip.
    """
    url = SERVER_URLS[backend]
    name = f"st_{uuid.uuid4().hex[:12]}"
    kind = "SCHEMA" if backend == "postgresql" else "DATABASE"
    admin = make_engine(url, **engine_options)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE {kind} {name}"))
    try:
        engine = admin.execution_options(schema_translate_map={None: name})
        if tables:
            create_schema(engine)
        yield Scratch(backend, url, name, engine)
    finally:
        cascade = " CASCADE" if backend == "postgresql" else ""
        with admin.begin() as conn:
            conn.execute(text(f"DROP {kind} {name}{cascade}"))
        admin.dispose()
