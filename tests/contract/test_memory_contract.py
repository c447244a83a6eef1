"""The contract suites against the in-memory adapter."""

from __future__ import annotations

import pytest

from settlement_adapters.bootstrap import in_memory
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.contracts import (
    AccountContract,
    CycleContract,
    IngestContract,
    OutboxContract,
    PayoutContract,
    QueryContract,
    UnitOfWorkContract,
)
from settlement_core.testing.marketplace import Build


@pytest.fixture
def settlement_build() -> Build:
    """A fresh in-memory store per test."""

    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return in_memory(rules, clock=clock, fx=fx)

    return build


class TestMemoryAccounts(AccountContract):
    """Accounts on the memory adapter."""


class TestMemoryIngest(IngestContract):
    """Ingest on the memory adapter."""


class TestMemoryCycles(CycleContract):
    """Cycles on the memory adapter."""


class TestMemoryPayouts(PayoutContract):
    """Payouts on the memory adapter."""


class TestMemoryQueries(QueryContract):
    """Queries on the memory adapter."""


class TestMemoryOutbox(OutboxContract):
    """Outbox on the memory adapter."""


class TestMemoryUnitOfWork(UnitOfWorkContract):
    """The unit of work of the memory adapter."""
