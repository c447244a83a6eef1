"""The composition root: wires adapters into a ready `Settlement`."""

from __future__ import annotations

from settlement_adapters.clock import SystemClock
from settlement_adapters.fx import NoFxRates
from settlement_adapters.memory import MemoryDatabase, MemoryUnitOfWork
from settlement_core.ids import IdFactory, UuidV7Factory
from settlement_core.ports import BusinessCalendar, Clock, FxRates
from settlement_core.rules import RuleEngine, WeekendCalendar
from settlement_core.services.context import Context
from settlement_core.services.settlement import Settlement


def in_memory(
    rules: RuleEngine,
    *,
    clock: Clock | None = None,
    fx: FxRates | None = None,
    calendar: BusinessCalendar | None = None,
    ids: IdFactory | None = None,
    db: MemoryDatabase | None = None,
    batch_size: int = 500,
) -> Settlement:
    """A Settlement on the in-memory adapter (tests, demos, embedded use without a database)."""
    rules.validate()
    database = db if db is not None else MemoryDatabase()
    factory = ids or UuidV7Factory()
    context = Context(
        uow=lambda: MemoryUnitOfWork(database, factory),
        rules=rules,
        clock=clock or SystemClock(),
        ids=factory,
        fx=fx or NoFxRates(),
        calendar=calendar or WeekendCalendar(),
        batch_size=batch_size,
    )
    return Settlement(context)
