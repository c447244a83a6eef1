"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware instant stored as naive UTC with microseconds; read back aware (UTC).

    Naive UTC sorts and compares the same on every backend, and MySQL's DATETIME
    has no zone at all.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """DATETIME(6) on MySQL, so microseconds survive."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware in, naive UTC out (a naive value is a bug upstream)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database layer")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Naive UTC in, aware UTC out."""
        return None if value is None else value.replace(tzinfo=UTC)


def json_text(value: Any) -> str:
    """A value as canonical JSON: sorted keys and no spaces, so equal values are equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class JsonText(TypeDecorator[Any]):
    """JSON kept as text: identical on every backend, and never queried inside."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Serialise with sorted keys so equal values store equal text."""
        return None if value is None else json_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Parse the stored text."""
        return None if value is None else json.loads(value)
