"""Every contract suite on every backend (ids name the backend: [memory], [sqlite], ...)."""

from __future__ import annotations

from settlement_core.testing.contracts import (
    AccountContract,
    ChargeContract,
    CycleContract,
    FreezeContract,
    IngestContract,
    OutboxContract,
    PayoutContract,
    QueryContract,
    UnitOfWorkContract,
)
from settlement_core.testing.fee_booking_contracts import FeeBookingContract
from settlement_core.testing.receivable_contracts import SettlementModeContract


class TestAccounts(AccountContract):
    """Accounts."""


class TestIngest(IngestContract):
    """Ingest."""


class TestCycles(CycleContract):
    """Cycles."""


class TestPayouts(PayoutContract):
    """Payouts."""


class TestQueries(QueryContract):
    """Queries."""


class TestOutbox(OutboxContract):
    """Outbox."""


class TestUnitOfWork(UnitOfWorkContract):
    """Unit of work."""


class TestFreezes(FreezeContract):
    """Balance freezes."""


class TestCharges(ChargeContract):
    """Non-order charges."""


class TestSettlementModes(SettlementModeContract):
    """Receivables and payables: netting and gross settlement."""


class TestFeeBooking(FeeBookingContract):
    """Fee engine results booked and stored with their factor snapshots."""
