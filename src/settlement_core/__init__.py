"""settlement: from cleared orders to money in the seller's bank, every cent accounted for.

The curated public API. Import from here (or the documented subpackages
`model`, `rules`, `ports`, `money`, `errors`, `testing`); other module paths may
move between releases.
"""

from settlement_core.errors import (
    BadSignature,
    CallbackRejected,
    ConcurrencyConflict,
    CurrencyMismatch,
    ExcessPrecision,
    FxRateUnavailable,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidIdentifier,
    InvalidRule,
    InvalidTimestamp,
    InvalidTransition,
    NegativeBalanceLimitExceeded,
    NotFound,
    ReplayedCallback,
    SettlementError,
    StaleCallback,
    UnbalancedTransaction,
    UnknownChannel,
    UnknownCurrency,
    ValidationError,
)
from settlement_core.lifecycle import (
    AccountStatus,
    BillingItemStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    StatementStatus,
)
from settlement_core.model import (
    Account,
    AmountBasis,
    ApprovePayout,
    BillingItem,
    InstantPayout,
    ItemKind,
    OpenAccount,
    Payout,
    RecordBillingItem,
    ReleaseSummary,
    Statement,
)
from settlement_core.money import Money, Rounding, allocate, from_minor, money, to_minor
from settlement_core.ports import (
    CallbackNotice,
    ChannelResult,
    ItemFilter,
    Outcome,
    PaymentChannel,
    PayoutFilter,
    PayoutInstruction,
    StatementFilter,
)
from settlement_core.rules import (
    ChannelPolicy,
    Cycle,
    PayoutRule,
    RuleEngine,
    SegmentRule,
    WeekendCalendar,
)
from settlement_core.services.context import Context
from settlement_core.services.settlement import Settlement

__all__ = [
    # front door
    "Settlement",
    "Context",
    # commands and aggregates
    "OpenAccount",
    "RecordBillingItem",
    "ApprovePayout",
    "InstantPayout",
    "ItemKind",
    "AmountBasis",
    "Account",
    "BillingItem",
    "Statement",
    "Payout",
    "ReleaseSummary",
    # states
    "AccountStatus",
    "BillingItemStatus",
    "StatementStatus",
    "PayoutStatus",
    "ReleaseSummaryStatus",
    # rules
    "PayoutRule",
    "RuleEngine",
    "SegmentRule",
    "Cycle",
    "WeekendCalendar",
    "ChannelPolicy",
    # payment channels (the port)
    "PaymentChannel",
    "PayoutInstruction",
    "ChannelResult",
    "CallbackNotice",
    "Outcome",
    # money
    "Money",
    "Rounding",
    "money",
    "from_minor",
    "to_minor",
    "allocate",
    # queries
    "ItemFilter",
    "StatementFilter",
    "PayoutFilter",
    # errors
    "SettlementError",
    "ValidationError",
    "InvalidAmount",
    "UnknownCurrency",
    "ExcessPrecision",
    "CurrencyMismatch",
    "InvalidTimestamp",
    "InvalidIdentifier",
    "InvalidRule",
    "InvalidTransition",
    "IdempotencyConflict",
    "NotFound",
    "ConcurrencyConflict",
    "UnbalancedTransaction",
    "NegativeBalanceLimitExceeded",
    "FxRateUnavailable",
    "InsufficientBalance",
    "UnknownChannel",
    "CallbackRejected",
    "BadSignature",
    "StaleCallback",
    "ReplayedCallback",
]
