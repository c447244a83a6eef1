"""An order source over a table in another database (SQLAlchemy Core, any dialect).

Reads `SELECT <columns> FROM <table> WHERE <changed_at> >= :start AND
<changed_at> < :end`; the change-time column should be indexed. Naive
timestamps (columns without a time zone) are read as UTC unless told
otherwise, in every column of the row. Any database error makes the source unavailable for this run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from attrs import define, field
from sqlalchemy import Engine, MetaData, Table, select
from sqlalchemy.exc import SQLAlchemyError

from settlement_core.errors import SourceUnavailable
from settlement_core.ports import SourceRecord


@define
class SqlTableSource:
    """One table of a host's order database, selected by a change-time column."""

    name: str
    tenant_id: str
    engine: Engine
    table_name: str
    changed_at_column: str = "updated_at"
    columns: Sequence[str] | None = None
    schema: str | None = None
    naive_zone: tzinfo = UTC
    _table: Table | None = field(default=None, init=False)

    def _reflect(self) -> Table:
        if self._table is None:
            self._table = Table(
                self.table_name, MetaData(), schema=self.schema, autoload_with=self.engine
            )
        return self._table

    def fetch(self, start: datetime, end: datetime) -> Sequence[SourceRecord]:
        """Rows changed in [start, end), oldest first; only the named columns are read."""
        try:
            table = self._reflect()
            changed = table.c[self.changed_at_column]
            wanted = [table.c[c] for c in self.columns] if self.columns else list(table.c)
            if changed not in wanted:
                wanted.append(changed)
            # Compared in the column's own terms: naive columns hold naive instants.
            low, high = (self._stored(t, changed.type) for t in (start, end))
            stmt = select(*wanted).where(changed >= low, changed < high).order_by(changed)
            with self.engine.connect() as conn:
                rows = [self._row(row._mapping) for row in conn.execute(stmt)]
        except (SQLAlchemyError, KeyError) as exc:
            raise SourceUnavailable(
                f"table {self.table_name} of source {self.name}: {exc}"
            ) from exc
        return [SourceRecord(row, self._aware(row[self.changed_at_column])) for row in rows]

    def _row(self, mapping: Mapping[Any, Any]) -> dict[str, object]:
        # Every naive instant of the row is read in the same zone, not only the change time.
        return {
            k: v.replace(tzinfo=self.naive_zone)
            if isinstance(v, datetime) and v.tzinfo is None
            else v
            for k, v in mapping.items()
        }

    def _stored(self, instant: datetime, column_type: object) -> datetime:
        if getattr(column_type, "timezone", False):
            return instant
        return instant.astimezone(self.naive_zone).replace(tzinfo=None)

    def _aware(self, value: object) -> datetime:
        if not isinstance(value, datetime):
            raise SourceUnavailable(f"{self.changed_at_column} is not a timestamp: {value!r}")
        return value if value.tzinfo is not None else value.replace(tzinfo=self.naive_zone)
