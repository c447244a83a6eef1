"""settlement: from cleared orders to money in the seller's bank, every cent accounted for.

The curated public API. Import from here (or the documented subpackages
`model`, `rules`, `ports`, `money`, `errors`, `testing`); other module paths may
move between releases.
"""

from settlement_core.errors import (
    ConcurrencyConflict,
    CurrencyMismatch,
    ExcessPrecision,
    FxRateUnavailable,
    IdempotencyConflict,
    InvalidAmount,
    InvalidIdentifier,
    InvalidRule,
    InvalidTimestamp,
    InvalidTransition,
    NegativeBalanceLimitExceeded,
    NotFound,
    SettlementError,
    UnbalancedTransaction,
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
    ItemKind,
    OpenAccount,
    Payout,
    RecordBillingItem,
    Statement,
)
from settlement_core.money import Money, Rounding, allocate, from_minor, money, to_minor
from settlement_core.ports import ItemFilter, PayoutFilter, StatementFilter
from settlement_core.rules import Cycle, PayoutRule, RuleEngine, SegmentRule, WeekendCalendar
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
    "ItemKind",
    "AmountBasis",
    "Account",
    "BillingItem",
    "Statement",
    "Payout",
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
]
