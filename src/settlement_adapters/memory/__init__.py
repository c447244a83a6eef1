"""In-memory adapter: the reference semantics, and the fakes for tests."""

from settlement_adapters.memory.database import MemoryDatabase
from settlement_adapters.memory.unit_of_work import MemoryUnitOfWork

__all__ = ["MemoryDatabase", "MemoryUnitOfWork"]
