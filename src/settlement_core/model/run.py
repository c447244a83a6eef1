"""A calculation run: the batch of items one job produced, audited and revocable (R-ING-8)."""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import GATED_RUNS, RunStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event, RunItemsReversed


@define(eq=False)
class Run(Aggregate):
    """A run of one tenant, known by the host's run id (the items' `run_id`).

    While it awaits approval or is being revoked its items are kept out of
    payouts. A revocation keeps its place (`revoke_cursor`, the last item id it
    reversed) on the run itself, so a crashed revocation resumes where it stopped.
    `hold_until` keeps the run's original items out of payouts until the
    statements that took their reversals are payable, so both net in one payout.
    """

    id: str
    tenant_id: str
    run_id: str
    needs_approval: bool
    created_at: datetime
    status: RunStatus = RunStatus.APPROVED
    approved_by: str | None = None
    approved_at: datetime | None = None
    revoked_by: str | None = None
    revoke_cursor: str | None = None
    reversed_count: int = 0
    hold_until: datetime | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    @property
    def gates_payouts(self) -> bool:
        """Whether the run's items must not reach a payout now."""
        return self.status in GATED_RUNS

    def gates_at(self, as_of: datetime) -> bool:
        """Whether the run keeps its items' statements out of a payout run at `as_of`."""
        if self.status is RunStatus.REVOKED:
            return self.hold_until is not None and as_of < self.hold_until
        return self.gates_payouts

    def approve(self, at: datetime, by: str) -> None:
        """Finance approved the run: its items may be paid out."""
        self._move("approve", at)
        self.approved_by = by
        self.approved_at = at

    def start_revoking(self, at: datetime, by: str) -> None:
        """Begin withdrawing the run; its items stop reaching payouts."""
        self._move("revoke", at)
        self.revoked_by = by

    def reversed_batch(
        self, at: datetime, last_item_id: str, count: int, batch_size: int, hold: datetime | None
    ) -> None:
        """Record one reversed batch: the cursor moves past it."""
        self.revoke_cursor = last_item_id
        self.reversed_count += count
        if hold is not None and (self.hold_until is None or hold > self.hold_until):
            self.hold_until = hold
        self.events.append(
            RunItemsReversed(
                tenant_id=self.tenant_id,
                at=at,
                run_id=self.run_id,
                count=count,
                batch_size=batch_size,
                reversed_total=self.reversed_count,
            )
        )

    def finish_revoking(self, at: datetime) -> None:
        """Every item of the run is reversed."""
        self._move("finish_revoking", at)
