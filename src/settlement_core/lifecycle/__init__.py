"""State enums and the lifecycle machines that move them."""

from settlement_core.lifecycle.machines import (
    destination,
    next_state,
    sources,
    transition_table,
    triggers,
)
from settlement_core.lifecycle.states import (
    AWAITING_ANSWER,
    GATED_RUNS,
    UNPAID_STATEMENTS,
    UNRELEASED_PAYOUTS,
    AccountStatus,
    BillingItemStatus,
    ChargeStatus,
    CollectionStatus,
    DiscrepancyStatus,
    FreezeStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    RunStatus,
    StatementStatus,
)

__all__ = [
    "AccountStatus",
    "BillingItemStatus",
    "PayoutStatus",
    "ReleaseSummaryStatus",
    "StatementStatus",
    "DiscrepancyStatus",
    "FreezeStatus",
    "ChargeStatus",
    "CollectionStatus",
    "RunStatus",
    "GATED_RUNS",
    "UNPAID_STATEMENTS",
    "AWAITING_ANSWER",
    "UNRELEASED_PAYOUTS",
    "destination",
    "next_state",
    "sources",
    "transition_table",
    "triggers",
]
