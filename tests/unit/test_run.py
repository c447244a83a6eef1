"""The Run aggregate: approval, revocation progress and when it keeps items out of payouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from settlement_core.errors import InvalidTransition
from settlement_core.lifecycle import RunStatus
from settlement_core.model import Run, RunItemsReversed, StatusChanged

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _run(needs_approval: bool = True) -> Run:
    status = RunStatus.AWAITING_APPROVAL if needs_approval else RunStatus.APPROVED
    return Run(
        id="r1",
        tenant_id="t",
        run_id="rebate",
        needs_approval=needs_approval,
        created_at=T0,
        status=status,
    )


class TestGate:
    """A run gates payouts while it awaits approval or is being revoked."""

    def test_awaiting_approval_gates_until_approved(self) -> None:
        """Approval lifts the gate and records who approved."""
        run = _run()
        assert run.gates_at(T0)
        run.approve(T0, "finance")
        assert not run.gates_at(T0)
        assert (run.approved_by, run.approved_at) == ("finance", T0)
        assert isinstance(run.events[0], StatusChanged)

    def test_a_revoked_run_gates_until_its_reversals_are_payable(self) -> None:
        """hold_until is the latest payable time of the statements that took reversals."""
        run = _run(needs_approval=False)
        run.start_revoking(T0, "ops")
        assert run.gates_at(T0)
        run.reversed_batch(T0, "i9", 3, 3, T0 + timedelta(days=2))
        run.reversed_batch(T0, "i12", 1, 3, T0 + timedelta(days=1))
        run.finish_revoking(T0)
        assert run.hold_until == T0 + timedelta(days=2)
        assert run.gates_at(T0 + timedelta(days=1))
        assert not run.gates_at(T0 + timedelta(days=2))
        assert (run.revoke_cursor, run.reversed_count) == ("i12", 4)
        batches = [e for e in run.events if isinstance(e, RunItemsReversed)]
        assert [(e.count, e.batch_size, e.reversed_total) for e in batches] == [
            (3, 3, 3),
            (1, 3, 4),
        ]

    def test_a_revoked_run_cannot_be_approved_or_revoked_again(self) -> None:
        """Illegal moves are typed errors."""
        run = _run()
        run.start_revoking(T0, "ops")
        run.finish_revoking(T0)
        with pytest.raises(InvalidTransition):
            run.approve(T0, "finance")
        with pytest.raises(InvalidTransition):
            run.start_revoking(T0, "ops")
