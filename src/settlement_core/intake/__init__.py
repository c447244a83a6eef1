"""Order intake, pure: field mappings, status-driven flows and collection windows."""

from settlement_core.intake.fields import FieldKind, FieldMapping, FieldSpec, OrderRecord
from settlement_core.intake.flows import (
    SEED_FLOW,
    Book,
    EntryRule,
    FlowEntry,
    OrderStatus,
    StatusFlow,
    plain_orders,
)
from settlement_core.intake.windows import Window, WindowPlan

__all__ = [
    "FieldKind",
    "FieldMapping",
    "FieldSpec",
    "OrderRecord",
    "SEED_FLOW",
    "Book",
    "EntryRule",
    "FlowEntry",
    "OrderStatus",
    "StatusFlow",
    "plain_orders",
    "Window",
    "WindowPlan",
]
