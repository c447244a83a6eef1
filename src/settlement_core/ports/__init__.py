"""Ports: what the core needs from storage and the outside world."""

from settlement_core.ids import IdFactory
from settlement_core.ports.metrics import CATALOGUE, Metrics, NoMetrics
from settlement_core.ports.order_source import OrderSource, SourceRecord
from settlement_core.ports.outbox import EventPublisher, Outbox, OutboxMessage, to_message
from settlement_core.ports.payment_channel import (
    CallbackNotice,
    ChannelRecord,
    ChannelResult,
    Outcome,
    PaymentChannel,
    PayoutInstruction,
)
from settlement_core.ports.queries import (
    AccountDue,
    ChannelTotal,
    ClosedStatement,
    ItemFilter,
    LedgerAudit,
    Page,
    PayoutFilter,
    StatementFilter,
    paged,
)
from settlement_core.ports.repositories import (
    AccountRepository,
    BillingItemRepository,
    ChannelEventRepository,
    ChargeRepository,
    CheckpointRepository,
    CollectionRepository,
    DiscrepancyRepository,
    FeeCalculationRepository,
    FreezeRepository,
    FundingRepository,
    Ledger,
    PayoutRepository,
    ReleaseSummaryRepository,
    RunRepository,
    StatementRepository,
)
from settlement_core.ports.services import Clock, FxRates
from settlement_core.ports.unit_of_work import UnitOfWork
from settlement_core.rules import BusinessCalendar

__all__ = [
    "AccountRepository",
    "BillingItemRepository",
    "StatementRepository",
    "PayoutRepository",
    "ReleaseSummaryRepository",
    "FundingRepository",
    "Ledger",
    "Outbox",
    "OutboxMessage",
    "EventPublisher",
    "UnitOfWork",
    "Clock",
    "FxRates",
    "IdFactory",
    "BusinessCalendar",
    "ItemFilter",
    "StatementFilter",
    "PayoutFilter",
    "Page",
    "to_message",
    "PaymentChannel",
    "PayoutInstruction",
    "ChannelResult",
    "CallbackNotice",
    "Outcome",
    "ChannelEventRepository",
    "ChannelTotal",
    "AccountDue",
    "ClosedStatement",
    "LedgerAudit",
    "ChannelRecord",
    "Metrics",
    "NoMetrics",
    "CATALOGUE",
    "paged",
    "DiscrepancyRepository",
    "CheckpointRepository",
    "FreezeRepository",
    "ChargeRepository",
    "FeeCalculationRepository",
    "CollectionRepository",
    "RunRepository",
    "OrderSource",
    "SourceRecord",
]
