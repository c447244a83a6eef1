"""The fee engine (R-FEE-1..3, R-FEE-6): formulas, schedules, matching, routing and splits.

Pure domain code: no I/O and no clock. Configuration (schedules, rules, routes,
calculator types) is checked when it is defined; pricing an order returns exact
Money, the factor snapshot for audit, and billing item commands with
replay-stable idempotency keys.
"""

from settlement_core.fees.billing import billing_items, line_key
from settlement_core.fees.calculators import (
    Calculator,
    CalculatorFactory,
    CalculatorRegistry,
    TieredRate,
)
from settlement_core.fees.config import engine_from_config
from settlement_core.fees.engine import FeeEngine, OrderSettlement
from settlement_core.fees.errors import (
    FeeDivisionByZero,
    FeeEvaluationError,
    InvalidFactor,
    MissingFactor,
    MissingParty,
    NoMatchingSchedule,
    NoRoute,
    UnknownCalculator,
)
from settlement_core.fees.formula import Formula
from settlement_core.fees.matcher import ScheduleMatcher, ScheduleRule
from settlement_core.fees.order import FactorProvider, Order
from settlement_core.fees.routing import WILDCARD, Route, RoutingTable
from settlement_core.fees.schedule import Fee, FeeResult, FeeSchedule, schedule_from_config
from settlement_core.fees.split import Share, Split, SplitLine, SplitRule, split_amount
from settlement_core.fees.values import config_decimal

__all__ = [
    # formulas and calculators
    "Formula",
    "Calculator",
    "CalculatorFactory",
    "CalculatorRegistry",
    "TieredRate",
    "config_decimal",
    # schedules
    "Fee",
    "FeeSchedule",
    "FeeResult",
    "schedule_from_config",
    "Order",
    "FactorProvider",
    # matching and routing
    "ScheduleRule",
    "ScheduleMatcher",
    "Route",
    "RoutingTable",
    "WILDCARD",
    # splits and booking
    "Share",
    "SplitRule",
    "SplitLine",
    "Split",
    "split_amount",
    "billing_items",
    "line_key",
    "FeeEngine",
    "OrderSettlement",
    "engine_from_config",
    # errors
    "FeeEvaluationError",
    "MissingFactor",
    "FeeDivisionByZero",
    "InvalidFactor",
    "UnknownCalculator",
    "NoMatchingSchedule",
    "NoRoute",
    "MissingParty",
]
