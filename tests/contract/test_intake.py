"""Order intake suites on every backend: collectors, the run approval gate, run revocation."""

from __future__ import annotations

from settlement_core.testing.intake_contracts import (
    CollectorContract,
    RunContract,
    StatusFlowContract,
)


class TestCollectors(CollectorContract):
    """Collectors."""


class TestRuns(RunContract):
    """Runs."""


class TestStatusFlows(StatusFlowContract):
    """Order-status flows."""
