"""Example order sources for collectors: a drop folder of CSV / JSON-lines files, a SQL table."""

from settlement_adapters.sources.drop_folder import DropFolderSource
from settlement_adapters.sources.sql_table import SqlTableSource

__all__ = ["DropFolderSource", "SqlTableSource"]
