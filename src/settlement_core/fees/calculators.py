"""Pluggable fee calculators and the registry that names them (R-FEE-6, seed 001).

A calculator computes one fee's exact value from named factor values. A new fee
type (a rebate, a commission with a cap, ...) is a new class registered under a
name; configuration then refers to it by that name, and neither the schedule
nor the engine changes. A config-defined formula is the built-in ``formula``
type. Calculators must be pure functions of their inputs: the factor snapshot a
schedule records is then enough to replay any fee exactly.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from attrs import field, frozen

from settlement_core.errors import InvalidRule, SettlementError
from settlement_core.fees.errors import UnknownCalculator
from settlement_core.fees.formula import Formula
from settlement_core.fees.values import EXACT, check_name, config_decimal

__all__ = ["Calculator", "CalculatorFactory", "CalculatorRegistry", "TieredRate"]


class Calculator(Protocol):
    """Computes one fee's exact, unrounded value from named factor values."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """The factor (or earlier fee) names `calculate` reads."""
        ...

    def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
        """The value for `values`, which holds exactly the names in `inputs`."""
        ...


CalculatorFactory = Callable[..., Calculator]


def _tiers(value: object) -> tuple[tuple[Decimal, Decimal], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule(f"tiers must be a sequence of (threshold, rate) pairs, got {value!r}")
    tiers: list[tuple[Decimal, Decimal]] = []
    for index, pair in enumerate(value):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InvalidRule(f"tier {index} must be a (threshold, rate) pair, got {pair!r}")
        threshold = config_decimal(pair[0], f"tier {index} threshold")
        rate = config_decimal(pair[1], f"tier {index} rate")
        if threshold < 0 or rate < 0:
            raise InvalidRule(f"tier {index} threshold and rate must not be negative")
        if tiers and threshold <= tiers[-1][0]:
            raise InvalidRule(f"tier thresholds must increase; tier {index} does not")
        tiers.append((threshold, rate))
    if not tiers:
        raise InvalidRule("tiers must not be empty")
    return tuple(tiers)


def _base(value: object) -> str:
    return check_name(value, "tiered rate base")


@frozen
class TieredRate:
    """`base * rate`, the rate of the highest tier whose threshold `|base|` reaches; else 0."""

    # Seed 001's rebate shape: no rebate below the first threshold, a higher rate from
    # each further one (the whole base at the reached rate, not by bands). The tier is
    # chosen by the absolute value so a refund mirrors its sale.
    base: str = field(converter=_base)
    tiers: tuple[tuple[Decimal, Decimal], ...] = field(converter=_tiers)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Only the base."""
        return (self.base,)

    def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
        """The base times the rate of the tier it reaches."""
        base = values[self.base]
        rate = Decimal(0)
        for threshold, tier_rate in self.tiers:
            if abs(base) < threshold:
                break
            rate = tier_rate
        with decimal.localcontext(EXACT):
            return base * rate


class CalculatorRegistry:
    """Calculator types by name; configuration builds calculators through it."""

    def __init__(self) -> None:
        """An empty registry (see `with_builtins` for one that knows the built-in types)."""
        self._factories: dict[str, CalculatorFactory] = {}

    @classmethod
    def with_builtins(cls) -> CalculatorRegistry:
        """A registry with ``formula`` (source=...) and ``tiered_rate`` (base=..., tiers=...)."""
        registry = cls()
        registry.register("formula", Formula)
        registry.register("tiered_rate", TieredRate)
        return registry

    @property
    def kinds(self) -> tuple[str, ...]:
        """The registered type names, sorted."""
        return tuple(sorted(self._factories))

    def register(self, kind: str, factory: CalculatorFactory) -> None:
        """Register a calculator type; a name can be registered only once."""
        check_name(kind, "calculator type")
        if not callable(factory):
            raise InvalidRule(f"calculator type {kind!r} needs a callable factory, got {factory!r}")
        if kind in self._factories:
            # Silently replacing a type would change every schedule that names it.
            raise InvalidRule(f"calculator type {kind!r} is already registered")
        self._factories[kind] = factory

    def create(self, kind: str, params: Mapping[str, object]) -> Calculator:
        """A calculator of a registered type, built from its configuration parameters."""
        factory = self._factories.get(kind) if isinstance(kind, str) else None
        if factory is None:
            raise UnknownCalculator(
                f"unknown calculator type {kind!r}; registered: {', '.join(self.kinds) or 'none'}"
            )
        if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
            raise InvalidRule(f"parameters of calculator {kind!r} must be a mapping by name")
        try:
            calculator = factory(**params)
        except SettlementError:
            raise
        except (TypeError, ValueError) as exc:
            raise InvalidRule(f"calculator {kind!r} refused its parameters: {exc}") from exc
        inputs = getattr(calculator, "inputs", None)
        if not callable(getattr(calculator, "calculate", None)) or not isinstance(inputs, tuple):
            raise InvalidRule(f"calculator type {kind!r} did not build a Calculator")
        return calculator
