"""Bulk inserts through PostgreSQL's COPY, for the large batches of ingest.

psycopg's executemany sends one statement per row (pipelined); COPY streams
the rows in one command, several times faster. The rows go through the same
column types (bind processors) as an INSERT would, so what is stored is the
same, and a failure surfaces as the SQLAlchemy error the INSERT would raise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from settlement_adapters.sqla.bulk import converted, has_events, processor, qualified_name

# Below this many rows the COPY set-up costs about what executemany saves (measured
# on a local server: even at 8 rows COPY takes no longer, at 64 it takes 0.4x).
COPY_FROM = 16


def copy_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY `rows` (dicts with the same keys, in the same order) into `table`."""
    copy_values(conn, table, tuple(rows[0]), [row.values() for row in rows])


def copy_values(
    conn: Connection, table: Table, columns: tuple[str, ...], lines: Sequence[Iterable[Any]]
) -> None:
    """COPY `lines` (each the values of `columns`, in order) within the open transaction."""
    import psycopg

    if not lines:
        return
    dialect = conn.dialect
    processors = [processor(table, column, dialect) for column in columns]
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(column) for column in columns)
    command = f"COPY {qualified_name(conn, table)} ({names}) FROM STDIN"
    raw = conn.connection.driver_connection
    assert raw is not None
    values = converted(processors, lines)
    events = has_events(conn)
    dispatch = conn.dispatch
    try:
        with raw.cursor() as cursor:
            # The engine's cursor events fire as for an INSERT on the cursor (bulk.py),
            # so instrumentation and the fault injection of the tests see COPY too.
            if events:
                dispatch.before_cursor_execute(conn, cursor, command, values, None, True)
            with cursor.copy(command) as copy:
                write = copy.write_row
                for line in values:
                    write(line)
            if events:
                dispatch.after_cursor_execute(conn, cursor, command, values, None, True)
    except psycopg.Error as exc:
        # The same error class an INSERT would raise, so lost races stay retryable.
        raise DBAPIError.instance(command, None, exc, psycopg.Error) from exc
