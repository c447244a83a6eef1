"""SQL adapter on SQLAlchemy 2.x Core: SQLite, PostgreSQL, MySQL/MariaDB."""

from settlement_adapters.sqla.engine import create_schema, make_engine
from settlement_adapters.sqla.tables import metadata
from settlement_adapters.sqla.unit_of_work import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyUnitOfWork", "create_schema", "make_engine", "metadata"]
