"""Fault injection for tests: a unit of work that crashes at a chosen point.

A `FaultPlan` names a point and which occurrence of it fails; `with_faults`
returns the same service whose every unit of work is wrapped so that the
plan is consulted there. The points:

- `ledger_post`: just after a journal transaction was posted (staged) in the
  unit of work, on every adapter;
- `before_commit`: when the command asks to commit, before anything is
  written;
- `after_commit`: right after the commit, before the caller hears of it (the
  process died between the database's answer and the caller's);
- `ledger_written` and `outbox_written` (SQL adapter only, through
  `sql_faults`): just after the INSERT (or COPY) into the journal entries or
  the outbox reached the database, inside the still-open transaction.

A job crashing between batches is `before_commit` or `after_commit` at the
n-th batch's commit. The raised `InjectedFault` is no `SettlementError`, so no
use case catches or retries it: it leaves the command as a crash would.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import attrs

from settlement_core.ledger import JournalTransaction
from settlement_core.ports import Ledger, UnitOfWork
from settlement_core.services.settlement import Settlement

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Points every adapter passes, and the ones only the SQL adapter's statements reach.
UOW_POINTS = ("ledger_post", "before_commit", "after_commit")
SQL_POINTS = ("ledger_written", "outbox_written")
POINTS = UOW_POINTS + SQL_POINTS


class InjectedFault(RuntimeError):
    """The crash a FaultPlan asked for."""


class FaultPlan:
    """Fail at each (point, n): the n-th time (1-based) `point` is reached; count every point.

    With no faults the plan only counts, which tells a test how often each
    point is reached in a fault-free run.
    """

    def __init__(self, *faults: tuple[str, int]) -> None:
        for point, _ in faults:
            if point not in POINTS:
                raise ValueError(f"unknown fault point {point!r} (known: {', '.join(POINTS)})")
        self.faults = set(faults)
        self.seen: Counter[str] = Counter()
        self.fired: list[tuple[str, int]] = []

    def reach(self, point: str) -> None:
        """Count `point`; raise InjectedFault if this occurrence is planned to fail."""
        self.seen[point] += 1
        here = (point, self.seen[point])
        if here in self.faults:
            self.fired.append(here)
            raise InjectedFault(f"injected fault at {point} #{here[1]}")


class FaultyLedger:
    """A ledger whose `post` reaches `ledger_post` after posting; everything else passes."""

    def __init__(self, inner: Ledger, plan: FaultPlan) -> None:
        self._inner = inner
        self._plan = plan

    def post(self, transaction: JournalTransaction) -> None:
        """Post, then let the plan fail."""
        self._inner.post(transaction)
        self._plan.reach("ledger_post")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FaultyUnitOfWork:
    """Any adapter's unit of work, with the plan consulted at its points."""

    def __init__(self, inner: UnitOfWork, plan: FaultPlan) -> None:
        self._inner = inner
        self._plan = plan
        self.ledger = FaultyLedger(inner.ledger, plan)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        """Begin the inner transaction."""
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed, as the inner unit of work does."""
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        """Let the plan fail before and after the real commit."""
        self._plan.reach("before_commit")
        self._inner.commit()
        self._plan.reach("after_commit")


def with_faults(app: Settlement, plan: FaultPlan) -> Settlement:
    """The same service over the same store, its units of work following `plan`."""
    inner = app.context.uow

    def uow() -> UnitOfWork:
        return FaultyUnitOfWork(inner(), plan)

    return Settlement(attrs.evolve(app.context, uow=uow))


@contextlib.contextmanager
def sql_faults(engine: Engine, plan: FaultPlan) -> Iterator[None]:
    """While open, statements on `engine` reach `ledger_written` and `outbox_written`."""
    from sqlalchemy import event

    from settlement_adapters.sqla import tables

    watched = {
        tables.journal_entries.name: "ledger_written",
        tables.outbox.name: "outbox_written",
    }

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith("INSERT"):
            head = head.split("INTO", 1)[1]
        elif head.startswith("COPY"):  # PostgreSQL's bulk insert of a large batch
            head = head[4:]
        else:
            return
        target = head.split("(", 1)[0].strip().strip('`"').lower()
        point = watched.get(target.rsplit(".", 1)[-1].strip('`"'))
        if point is not None:
            plan.reach(point)

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(engine, "after_cursor_execute", after)
