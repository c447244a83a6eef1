"""The states of every aggregate; their string values are the persisted form."""

from __future__ import annotations

import enum


class AccountStatus(enum.StrEnum):
    """A settlement party is paid while active, accrues but is never paid while held."""

    ACTIVE = "active"
    HELD = "held"


class BillingItemStatus(enum.StrEnum):
    """An order's settlement line, from recorded to paid."""

    PENDING = "pending"
    STATEMENTED = "statemented"
    PAID = "paid"
    FAILED = "failed"


class StatementStatus(enum.StrEnum):
    """One account's bill for one cycle in one currency."""

    OPEN = "open"
    CLOSED = "closed"
    PAID_OUT = "paid_out"
    CARRIED_FORWARD = "carried_forward"


class PayoutStatus(enum.StrEnum):
    """The money one account receives; see DOMAIN.md for the flow."""

    PENDING_APPROVAL = "pending_approval"
    CREATED = "created"
    ONGOING = "ongoing"
    UNKNOWN = "unknown"
    PAID = "paid"
    FAILED = "failed"
    FAILED_NO_RETRY = "failed_no_retry"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class ReleaseSummaryStatus(enum.StrEnum):
    """One batch of payouts per channel, released by operations."""

    CREATED = "created"
    FUNDED = "funded"
    RELEASED = "released"


class DiscrepancyStatus(enum.StrEnum):
    """A difference reconciliation found: open until someone explains or corrects it."""

    OPEN = "open"
    RESOLVED = "resolved"


class FreezeStatus(enum.StrEnum):
    """Part of an available balance set aside (try), then spent (confirm) or given back."""

    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class RunStatus(enum.StrEnum):
    """A calculation run (one batch of items, e.g. a month's rebates) from audit to revocation."""

    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REVOKING = "revoking"
    REVOKED = "revoked"


class ChargeStatus(enum.StrEnum):
    """A non-order charge waits for a second person's approval before it posts (R-FEE-5)."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class CollectionStatus(enum.StrEnum):
    """What a gross-settled party owes the platform, from billed to collected (R-FEE-4)."""

    OPEN = "open"
    PARTIALLY_COLLECTED = "partially_collected"
    COLLECTED = "collected"
    # Given up on collecting apart: what is left nets against the party's payouts.
    OFFSET = "offset"


# Groups of states that jobs and queries select by; one definition for every adapter.
UNPAID_STATEMENTS = (StatementStatus.OPEN, StatementStatus.CLOSED, StatementStatus.CARRIED_FORWARD)
"""Statements whose money is not paid out yet."""
AWAITING_ANSWER = (PayoutStatus.ONGOING, PayoutStatus.UNKNOWN)
"""Payouts the channel has (or may have) and has not settled: it may still answer."""
UNRELEASED_PAYOUTS = (PayoutStatus.PENDING_APPROVAL, PayoutStatus.CREATED)
"""Payouts not handed to a channel yet."""
GATED_RUNS = (RunStatus.AWAITING_APPROVAL, RunStatus.REVOKING)
"""Runs whose items must not reach a payout: not audited yet, or being withdrawn."""
