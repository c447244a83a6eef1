"""The unit of work: one transaction per command, events to the outbox on commit."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from settlement_core.model import Event
from settlement_core.ports.outbox import Outbox
from settlement_core.ports.repositories import (
    AccountRepository,
    BillingItemRepository,
    ChannelEventRepository,
    ChargeRepository,
    CheckpointRepository,
    CollectionRepository,
    DiscrepancyRepository,
    FeeCalculationRepository,
    FreezeRepository,
    FundingRepository,
    Ledger,
    PayoutRepository,
    ReleaseSummaryRepository,
    RunRepository,
    StatementRepository,
)


class UnitOfWork(Protocol):
    """A transaction over every repository; rolls back unless committed."""

    @property
    def accounts(self) -> AccountRepository:
        """The accounts of this transaction."""
        ...

    @property
    def items(self) -> BillingItemRepository:
        """The items of this transaction."""
        ...

    @property
    def statements(self) -> StatementRepository:
        """The statements of this transaction."""
        ...

    @property
    def payouts(self) -> PayoutRepository:
        """The payouts of this transaction."""
        ...

    @property
    def releases(self) -> ReleaseSummaryRepository:
        """The releases of this transaction."""
        ...

    @property
    def fundings(self) -> FundingRepository:
        """The fundings of this transaction."""
        ...

    @property
    def channel_events(self) -> ChannelEventRepository:
        """The channel answers of this transaction."""
        ...

    @property
    def discrepancies(self) -> DiscrepancyRepository:
        """The discrepancies of this transaction."""
        ...

    @property
    def freezes(self) -> FreezeRepository:
        """The balance freezes of this transaction."""
        ...

    @property
    def runs(self) -> RunRepository:
        """The calculation runs of this transaction."""
        ...

    @property
    def charges(self) -> ChargeRepository:
        """The non-order charges of this transaction."""
        ...

    @property
    def collections(self) -> CollectionRepository:
        """The receivables billed apart to gross-settled parties in this transaction."""
        ...

    @property
    def fee_calculations(self) -> FeeCalculationRepository:
        """The priced order events of this transaction."""
        ...

    @property
    def checkpoints(self) -> CheckpointRepository:
        """The job checkpoints of this transaction."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The ledger of this transaction."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox of this transaction."""
        ...

    def __enter__(self) -> Self:
        """Begin the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def record(self, event: Event) -> None:
        """Add an event that no single aggregate carries (bulk changes)."""
        ...

    def commit(self) -> None:
        """Write the staged changes and their events atomically (ConcurrencyConflict if stale)."""
        ...

    def rollback(self) -> None:
        """Discard the staged changes."""
        ...
