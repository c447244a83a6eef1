"""The fee engine's typed errors, defined with every other error in `settlement_core.errors`.

Definition problems (a bad formula, a cycle, an overlap, a duplicate name) are
`InvalidRule`s and surface when configuration is loaded; run-time problems (a
missing factor, a division by zero) are `FeeEvaluationError`s and surface while
pricing one order, before anything is booked.
"""

from __future__ import annotations

from settlement_core.errors import (
    FeeDivisionByZero,
    FeeEvaluationError,
    InvalidFactor,
    MissingFactor,
    MissingParty,
    NoMatchingSchedule,
    NoRoute,
    UnknownCalculator,
)

__all__ = [
    "FeeEvaluationError",
    "MissingFactor",
    "FeeDivisionByZero",
    "InvalidFactor",
    "UnknownCalculator",
    "NoMatchingSchedule",
    "NoRoute",
    "MissingParty",
]
