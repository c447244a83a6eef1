"""Typed errors of the fee engine, children of the library's own error tree.

Definition problems (a bad formula, a cycle, an overlap, a duplicate name) are
`InvalidRule`s and surface when configuration is loaded; run-time problems (a
missing factor, a division by zero) are `FeeEvaluationError`s and surface while
pricing one order, before anything is booked.
"""

from __future__ import annotations

from collections.abc import Iterable

from settlement_core.errors import InvalidRule, NotFound, SettlementError, ValidationError


class FeeEvaluationError(SettlementError):
    """A formula or calculator could not produce a fee for this order."""


class MissingFactor(FeeEvaluationError, LookupError):
    """Factors a schedule needs were neither given with the order nor provided."""

    def __init__(self, names: Iterable[str], where: str) -> None:
        self.names = tuple(sorted(names))
        super().__init__(f"missing factors for {where}: {', '.join(self.names)}")


class FeeDivisionByZero(FeeEvaluationError, ZeroDivisionError):
    """A formula divided by zero for this order's factors."""


class InvalidFactor(ValidationError):
    """A factor value is not a finite Decimal (a float, NaN, infinity or garbage)."""


class UnknownCalculator(InvalidRule):
    """Configuration names a calculator type nobody registered."""


class NoMatchingSchedule(NotFound):
    """No fee schedule rule matches the order's attributes at the order's time."""


class NoRoute(NotFound):
    """No route says which settlement party settles this fee."""


class MissingParty(ValidationError):
    """A route or share names a role (``@seller``) the order does not fill."""
