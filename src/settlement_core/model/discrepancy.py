"""A difference reconciliation found, recorded and worked until it is explained (R-REC-1, 3)."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from attrs import define, field

from settlement_core.lifecycle import DiscrepancyStatus
from settlement_core.model.base import Aggregate
from settlement_core.model.events import Event


class DiscrepancyKind(enum.StrEnum):
    """What disagreed with what."""

    STATEMENT_TOTAL = "statement_total"  # running total vs a recount of its items
    PAYOUT_AMOUNT = "payout_amount"  # amount vs its sources, or vs its posting
    UNBALANCED_TRANSACTION = "unbalanced_transaction"  # legs do not sum to zero
    BALANCE_CACHE = "balance_cache"  # a cached balance vs the sum of its entries
    LEDGER_TOTAL = "ledger_total"  # a currency's whole journal does not sum to zero
    MISSING_AT_CHANNEL = "missing_at_channel"  # we sent it; the channel's file lacks it
    MISSING_OURS = "missing_ours"  # in the channel's file; we have no such submission
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    STUCK_PAYOUT = "stuck_payout"  # ongoing or unknown for too long
    STUCK_RELEASE = "stuck_release"  # funded but not released for too long
    STUCK_STATEMENT = "stuck_statement"  # still open long after its period ended
    CHAIN_BROKEN = "chain_broken"  # a sealed journal transaction changed, vanished or moved
    # A gross party's receivable balance vs what its open collections still bill.
    COLLECTION_BALANCE = "collection_balance"


def finding_key(
    kind: DiscrepancyKind,
    subjects: tuple[str, ...],
    currency: str | None,
    expected_minor: int | None,
    actual_minor: int | None,
) -> str:
    """The identity of a finding: the same difference on the same objects is one discrepancy.

    The key holds the difference, not both sides, so a statement that keeps
    receiving items while its total is off by the same amount stays one finding;
    a difference that changes is a new one.
    """
    if expected_minor is not None and actual_minor is not None:
        amount = f"diff:{actual_minor - expected_minor}"
    else:
        amount = f"{expected_minor}/{actual_minor}"
    blob = "\x1f".join([kind.value, *subjects, currency or "", amount])
    return f"{kind.value}:{hashlib.sha256(blob.encode()).hexdigest()[:40]}"


@define(eq=False)
class Discrepancy(Aggregate):
    """One difference, the objects involved, the amounts on each side, and how it ended."""

    id: str
    tenant_id: str
    kind: DiscrepancyKind
    key: str
    subjects: tuple[str, ...]
    found_at: datetime
    detail: str
    currency: str | None = None
    expected_minor: int | None = None
    actual_minor: int | None = None
    status: DiscrepancyStatus = DiscrepancyStatus.OPEN
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    version: int = 0
    events: list[Event] = field(factory=list, repr=False)

    def resolve(self, at: datetime, by: str, reason: str) -> None:
        """Close the discrepancy, saying who did and why (an audited step)."""
        self._move("resolve", at)
        self.resolution = reason
        self.resolved_by = by
        self.resolved_at = at
