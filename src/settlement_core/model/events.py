"""Domain events: what happened, as frozen data, in the past tense.

Aggregates append them; the unit of work writes them to the outbox in the same
transaction as the change, and publishes them after commit.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen


@frozen(kw_only=True)
class Event:
    """Base of every domain event."""

    tenant_id: str
    at: datetime

    @property
    def name(self) -> str:
        """The event's type name, as written to the outbox."""
        return type(self).__name__


@frozen(kw_only=True)
class StatusChanged(Event):
    """An aggregate moved from one state to another through its lifecycle."""

    aggregate: str
    aggregate_id: str
    trigger: str
    source: str
    dest: str


@frozen(kw_only=True)
class RunItemsReversed(Event):
    """One bounded batch of a run's items was reversed during its revocation (R-ING-8)."""

    run_id: str
    count: int
    batch_size: int
    reversed_total: int


@frozen(kw_only=True)
class AccountOpened(Event):
    """A settlement party was seen for the first time."""

    account_id: str
    shop_id: str
    rule_id: str


@frozen(kw_only=True)
class AccountRuleAssigned(Event):
    """An account's payout rule was changed; it applies from the next cycle."""

    account_id: str
    rule_id: str


@frozen(kw_only=True)
class AccountSettlementModeChanged(Event):
    """An account switched between netting and gross settlement."""

    account_id: str
    mode: str


@frozen(kw_only=True)
class BillingItemRecorded(Event):
    """A billing item was booked on a statement and the ledger."""

    item_id: str
    account_id: str
    statement_id: str
    order_id: str
    kind: str
    amount_minor: int
    currency: str


@frozen(kw_only=True)
class BillingItemsMoved(Event):
    """A set of items changed state together (one event per bulk change)."""

    statement_ids: tuple[str, ...]
    trigger: str
    dest: str
    count: int


@frozen(kw_only=True)
class StatementOpened(Event):
    """A statement was opened for an account, currency and period."""

    statement_id: str
    account_id: str
    currency: str
    period_start: datetime
    period_end: datetime
    rule_id: str
    rule_version: int


@frozen(kw_only=True)
class StatementTotalMismatch(Event):
    """A closing statement's running total differs from the recount of its items."""

    statement_id: str
    running_minor: int
    recount_minor: int


@frozen(kw_only=True)
class PayoutCreated(Event):
    """A payout was created from one account's payable statements."""

    payout_id: str
    account_id: str
    amount_minor: int
    currency: str
    statement_ids: tuple[str, ...]
    needs_approval: bool


@frozen(kw_only=True)
class FundingRecorded(Event):
    """Operations topped up a channel's account."""

    funding_id: str
    channel: str
    amount_minor: int
    currency: str
    reference: str


@frozen(kw_only=True)
class ReleaseSummaryCreated(Event):
    """Releasable payouts of one channel and currency were grouped for operations."""

    summary_id: str
    channel: str
    currency: str
    total_minor: int
    payout_count: int


@frozen(kw_only=True)
class PayoutWithdrawn(Event):
    """A cancelled payout left its (unreleased) release summary."""

    summary_id: str
    payout_id: str
    amount_minor: int


@frozen(kw_only=True)
class PayoutReplaced(Event):
    """A payout whose money came back was paid again by a later payout."""

    payout_id: str
    replaced_by: str


@frozen(kw_only=True)
class DiscrepancyFound(Event):
    """Reconciliation recorded a difference (R-REC-1)."""

    discrepancy_id: str
    kind: str
    subjects: tuple[str, ...]
    currency: str | None
    expected_minor: int | None
    actual_minor: int | None


@frozen(kw_only=True)
class CollectionBilled(Event):
    """A gross-settled party was billed what it owes for the statements it was paid for."""

    collection_id: str
    account_id: str
    amount_minor: int
    currency: str
    statement_ids: tuple[str, ...]


@frozen(kw_only=True)
class CollectionReceived(Event):
    """A party paid (part of) what a collection bills, under a bank reference."""

    collection_id: str
    amount_minor: int
    currency: str
    reference: str


@frozen(kw_only=True)
class FeeCalculated(Event):
    """An order event was priced by a fee schedule and its lines booked."""

    calculation_id: str
    order_id: str
    sequence: int
    rule_id: str
    item_ids: tuple[str, ...]
