"""The domain model: aggregates, values, events and commands."""

from settlement_core.model.account import DEFAULT_CHANNEL, Account, SettlementMode
from settlement_core.model.base import Aggregate
from settlement_core.model.billing_item import (
    CLOSE_TRIGGER,
    RECEIVABLE_KINDS,
    AmountBasis,
    BillingItem,
    ItemKind,
    status_on,
)
from settlement_core.model.channel_event import AnswerSource, ChannelEvent
from settlement_core.model.charge import Charge, ChargeKind
from settlement_core.model.collection import Collection
from settlement_core.model.commands import (
    ApprovePayout,
    InstantPayout,
    OpenAccount,
    OpenRun,
    ProposeCharge,
    RecordBillingItem,
)
from settlement_core.model.discrepancy import Discrepancy, DiscrepancyKind, finding_key
from settlement_core.model.events import (
    AccountOpened,
    AccountRuleAssigned,
    AccountSettlementModeChanged,
    BillingItemRecorded,
    BillingItemsMoved,
    CollectionBilled,
    CollectionReceived,
    DiscrepancyFound,
    Event,
    FeeCalculated,
    FundingRecorded,
    PayoutCreated,
    PayoutReplaced,
    PayoutWithdrawn,
    ReleaseSummaryCreated,
    RunItemsReversed,
    StatementOpened,
    StatementTotalMismatch,
    StatusChanged,
)
from settlement_core.model.fee_calculation import CalculatedLine, FeeCalculation
from settlement_core.model.freeze import Freeze
from settlement_core.model.payout import Payout, PayoutKind
from settlement_core.model.release import Funding, ReleaseSummary
from settlement_core.model.run import Run
from settlement_core.model.statement import Statement
from settlement_core.model.values import FxQuote, PayoutSource

__all__ = [
    "Account",
    "Aggregate",
    "AmountBasis",
    "BillingItem",
    "ItemKind",
    "Payout",
    "PayoutSource",
    "FxQuote",
    "Funding",
    "ReleaseSummary",
    "Statement",
    "OpenAccount",
    "RecordBillingItem",
    "ApprovePayout",
    "InstantPayout",
    "Event",
    "StatusChanged",
    "AccountOpened",
    "AccountRuleAssigned",
    "BillingItemRecorded",
    "BillingItemsMoved",
    "StatementOpened",
    "StatementTotalMismatch",
    "PayoutCreated",
    "FundingRecorded",
    "ReleaseSummaryCreated",
    "PayoutWithdrawn",
    "PayoutReplaced",
    "PayoutKind",
    "ChannelEvent",
    "AnswerSource",
    "DEFAULT_CHANNEL",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyFound",
    "finding_key",
    "Freeze",
    "Charge",
    "ChargeKind",
    "ProposeCharge",
    "SettlementMode",
    "AccountSettlementModeChanged",
    "RECEIVABLE_KINDS",
    "CLOSE_TRIGGER",
    "status_on",
    "Collection",
    "CollectionBilled",
    "CollectionReceived",
    "FeeCalculation",
    "CalculatedLine",
    "FeeCalculated",
    "Run",
    "OpenRun",
    "RunItemsReversed",
]
