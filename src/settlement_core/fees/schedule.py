"""Fee schedules as data: named fees, their roundings and their inputs (R-FEE-1, seed 004).

A schedule declares its input factors and its fees (``commission = rate * price``).
A fee may use factors and other fees; the schedule is checked when it is
defined (unknown names, unused factors, dependency cycles, missing roundings)
and evaluates fees in dependency order. A fee that uses another fee sees that
fee's rounded Money amount, the figure that is actually booked.

Each fee becomes exact Money in the order's currency: either its `Rounding` to
the currency's minor unit, or (with ``rounding=None``) the formula's own
outermost round_* call, whose result must then fit the currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
from attrs import field, frozen

from settlement_core.errors import ExcessPrecision, InvalidRule, SettlementError
from settlement_core.fees.calculators import Calculator, CalculatorRegistry
from settlement_core.fees.errors import FeeEvaluationError, InvalidFactor, MissingFactor
from settlement_core.fees.formula import Formula
from settlement_core.fees.order import FactorProvider, Order
from settlement_core.fees.split import Share, SplitRule
from settlement_core.fees.values import check_name, config_mapping, factor_value
from settlement_core.money import Money, Rounding, get_currency, money, round_decimal
from settlement_core.rules.payout_rule import check_rule_id

__all__ = ["Fee", "FeeSchedule", "FeeResult", "schedule_from_config"]


def _fee_name(_instance: object, _attribute: object, value: Any) -> None:
    check_name(value, "fee name")


def _calculator(value: Any) -> Calculator:
    if isinstance(value, str):
        return Formula(value)
    inputs = getattr(value, "inputs", None)
    if not callable(getattr(value, "calculate", None)) or not isinstance(inputs, tuple):
        raise InvalidRule(
            f"a fee's formula must be a formula string or a Calculator, got {type(value).__name__}"
        )
    for name in inputs:
        check_name(name, "calculator input")
    calculator: Calculator = value
    return calculator


def _rounding(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None and not isinstance(value, Rounding):
        raise InvalidRule(f"a fee's rounding must be a Rounding or None, got {value!r}")


def _flag(_instance: object, attribute: Any, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidRule(f"{attribute.name} must be a bool, got {value!r}")


@frozen
class Fee:
    """One named fee: how to compute it and how its value becomes Money."""

    name: str = field(validator=_fee_name)
    # A formula source, a Formula, or any Calculator (a registered calculator type).
    formula: Calculator = field(converter=_calculator)
    # Rounding to the currency's minor unit; None only if the formula rounds itself.
    rounding: Rounding | None = field(validator=_rounding)
    # False for a subtotal other fees use but no party is paid (not a split line).
    booked: bool = field(default=True, validator=_flag)

    def __attrs_post_init__(self) -> None:
        if (
            self.rounding is None
            and isinstance(self.formula, Formula)
            and not self.formula.rounds_itself
        ):
            raise InvalidRule(
                f"fee {self.name!r} needs a rounding: pass a Rounding, or make the formula's "
                "outermost operation a round_* call such as round_half_up(..., 2)"
            )

    def to_money(self, value: Decimal, currency: str) -> Money:
        """The fee's computed value as Money in `currency`, rounded as the fee says."""
        if self.rounding is not None:
            return round_decimal(value, currency, self.rounding)
        try:
            return money(value, currency)
        except ExcessPrecision:
            raise FeeEvaluationError(
                f"fee {self.name!r} computed {value}, which has more decimal places than "
                f"{currency} allows; give the fee a rounding or round to fewer places"
            ) from None


def _schedule_name(_instance: object, _attribute: object, value: Any) -> None:
    check_rule_id(value, "schedule name")


def _factor_names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule(f"schedule factors must be a sequence of names, got {value!r}")
    names = tuple(check_name(name, "factor name") for name in value)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidRule(f"factors declared twice: {', '.join(duplicates)}")
    return names


def _fees(value: Any) -> tuple[Fee, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule(f"schedule fees must be a sequence of Fee, got {value!r}")
    fees = tuple(value)
    for fee in fees:
        if not isinstance(fee, Fee):
            raise InvalidRule(f"schedule fees must be Fee values, got {type(fee).__name__}")
    if not fees:
        raise InvalidRule("a schedule needs at least one fee")
    names = [fee.name for fee in fees]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidRule(f"fees defined twice: {', '.join(duplicates)}")
    return fees


def _split_rule(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, SplitRule):
        raise InvalidRule(f"a schedule's split must be a SplitRule, got {type(value).__name__}")


def _default_split() -> SplitRule:
    return SplitRule.residual("@seller")


def _cycle(depends: Mapping[str, tuple[str, ...]], pending: list[str]) -> str:
    # Every pending fee waits on another pending fee, so walking those edges from any
    # of them must come back to a fee already on the path: that loop is a cycle.
    path = [pending[0]]
    while True:
        following = next(name for name in depends[path[-1]] if name in pending)
        if following in path:
            loop = [*path[path.index(following) :], following]
            return " -> ".join(loop)
        path.append(following)


def _frozen_amounts(value: Mapping[str, Money]) -> Mapping[str, Money]:
    return MappingProxyType(dict(value))


def _frozen_factors(value: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(value))


@frozen(kw_only=True)
class FeeResult:
    """The fees of one order as exact Money, and the factor values they came from."""

    schedule: str
    currency: str
    # Every fee (booked or not) in the order the schedule declares them.
    amounts: Mapping[str, Money] = field(converter=_frozen_amounts)
    # Every factor used, whoever supplied it: replaying `compute` with it gives `amounts`.
    factors: Mapping[str, Decimal] = field(converter=_frozen_factors)
    # The factors a FactorProvider supplied (the others came with the order).
    provided: tuple[str, ...] = ()


@frozen(kw_only=True)
class FeeSchedule:
    """Named fees over declared input factors, plus the rule sharing what they leave."""

    name: str = field(validator=_schedule_name)
    factors: tuple[str, ...] = field(converter=_factor_names)
    fees: tuple[Fee, ...] = field(converter=_fees)
    split: SplitRule = field(factory=_default_split, validator=_split_rule)
    # Fee names in the order they are computed: every fee after the fees it uses.
    evaluation_order: tuple[str, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        fee_names = {fee.name for fee in self.fees}
        shadowed = sorted(fee_names & set(self.factors))
        if shadowed:
            raise InvalidRule(f"schedule {self.name!r}: names both factor and fee: {shadowed}")
        self._check_names(fee_names)
        clashing = sorted(self.split.lines & {fee.name for fee in self.fees if fee.booked})
        if clashing:
            raise InvalidRule(
                f"schedule {self.name!r}: split lines reuse booked fee names: {clashing}"
            )
        object.__setattr__(self, "evaluation_order", self._order(fee_names))

    def _check_names(self, fee_names: set[str]) -> None:
        known = fee_names | set(self.factors)
        problems = []
        for fee in self.fees:
            unknown = [name for name in fee.formula.inputs if name not in known]
            if unknown:
                problems.append(f"fee {fee.name!r} uses {', '.join(unknown)}")
        if problems:
            raise InvalidRule(
                f"schedule {self.name!r} uses unknown names (declare them as factors or "
                f"fees): {'; '.join(problems)}"
            )
        used = {name for fee in self.fees for name in fee.formula.inputs}
        unused = [name for name in self.factors if name not in used]
        if unused:
            raise InvalidRule(
                f"schedule {self.name!r} declares factors no fee uses: {', '.join(unused)}"
            )

    def _order(self, fee_names: set[str]) -> tuple[str, ...]:
        depends = {
            fee.name: tuple(name for name in fee.formula.inputs if name in fee_names)
            for fee in self.fees
        }
        pending = [fee.name for fee in self.fees]
        done: list[str] = []
        while pending:
            # Declaration order among the ready fees keeps the order deterministic.
            ready = next((n for n in pending if all(d in done for d in depends[n])), None)
            if ready is None:
                raise InvalidRule(
                    f"schedule {self.name!r} has a dependency cycle: {_cycle(depends, pending)}"
                )
            pending.remove(ready)
            done.append(ready)
        return tuple(done)

    def fee(self, name: str) -> Fee:
        """The fee named `name`; InvalidRule if the schedule has none."""
        for fee in self.fees:
            if fee.name == name:
                return fee
        raise InvalidRule(f"schedule {self.name!r} has no fee {name!r}")

    @property
    def booked(self) -> tuple[str, ...]:
        """The fees that become split lines, in declaration order."""
        return tuple(fee.name for fee in self.fees if fee.booked)

    def compute(self, currency: str, factors: Mapping[str, object]) -> FeeResult:
        """Every fee for these factor values: a pure function, so a snapshot replays exactly."""
        code = get_currency(currency).code
        missing = [name for name in self.factors if name not in factors]
        if missing:
            raise MissingFactor(missing, f"schedule {self.name!r}")
        snapshot = {name: factor_value(name, factors[name]) for name in self.factors}
        values = dict(snapshot)
        amounts: dict[str, Money] = {}
        for name in self.evaluation_order:
            fee = self.fee(name)
            raw = _calculate(fee, {key: values[key] for key in fee.formula.inputs})
            amounts[name] = fee.to_money(raw, code)
            values[name] = amounts[name].amount
        return FeeResult(
            schedule=self.name,
            currency=code,
            amounts={fee.name: amounts[fee.name] for fee in self.fees},
            factors=snapshot,
        )

    def evaluate(self, order: Order, provider: FactorProvider | None = None) -> FeeResult:
        """The order's fees; factors it lacks are asked of `provider` and snapshotted too."""
        values: dict[str, object] = {
            name: order.factors[name] for name in self.factors if name in order.factors
        }
        missing = tuple(name for name in self.factors if name not in values)
        provided: tuple[str, ...] = ()
        if missing and provider is not None:
            supplied = provider.factors(missing, order)
            if not isinstance(supplied, Mapping):
                raise InvalidFactor(
                    f"a factor provider must return a mapping, got {type(supplied).__name__}"
                )
            provided = tuple(name for name in missing if name in supplied)
            values.update({name: supplied[name] for name in provided})
        return attrs.evolve(self.compute(order.currency, values), provided=provided)


def _calculate(fee: Fee, inputs: Mapping[str, Decimal]) -> Decimal:
    try:
        value = fee.formula.calculate(inputs)
    except SettlementError:
        raise
    except ArithmeticError as exc:  # decimal signals and ZeroDivisionError from a plug-in
        raise FeeEvaluationError(f"fee {fee.name!r} could not be computed: {exc!r}") from exc
    if not isinstance(value, Decimal) or not value.is_finite():
        raise FeeEvaluationError(f"fee {fee.name!r} must compute a finite Decimal, got {value!r}")
    return value


_SCHEDULE_KEYS = frozenset({"name", "factors", "fees", "split"})
_FEE_KEYS = frozenset({"name", "formula", "calculator", "params", "rounding", "booked"})
_SHARE_KEYS = frozenset({"party", "ratio", "line"})


def _config_rounding(fee: Mapping[str, Any], name: object) -> Rounding | None:
    if "rounding" not in fee:
        raise InvalidRule(f"fee {name!r} must state its rounding (a Rounding name or null)")
    raw = fee["rounding"]
    if raw is None or isinstance(raw, Rounding):
        return raw
    if isinstance(raw, str) and raw in Rounding.__members__:
        return Rounding[raw]
    names = ", ".join(Rounding.__members__)
    raise InvalidRule(f"fee {name!r} rounding must be one of {names} or null, got {raw!r}")


def _config_fee(value: object, registry: CalculatorRegistry) -> Fee:
    fee = config_mapping(value, "a fee", _FEE_KEYS)
    name: Any = fee.get("name")
    if ("formula" in fee) == ("calculator" in fee):
        raise InvalidRule(f"fee {name!r} needs exactly one of formula or calculator")
    if "formula" in fee:
        if "params" in fee:
            raise InvalidRule(f"fee {name!r}: params belong to a calculator, not a formula")
        calculator: Calculator | str = fee["formula"]
    else:
        calculator = registry.create(fee["calculator"], fee.get("params", {}))
    return Fee(name, calculator, _config_rounding(fee, name), booked=fee.get("booked", True))


def schedule_from_config(config: Mapping[str, Any], registry: CalculatorRegistry) -> FeeSchedule:
    """A schedule from plain data (parsed JSON, YAML, a database row), strictly checked."""
    # Shape: {"name", "factors": [...], "fees": [{"name", "formula" | "calculator" and
    # "params", "rounding": "HALF_UP" | None, "booked"?}], "split"?: [{"party", "ratio"?,
    # "line"?}]}. Numbers in params and ratios are Decimals, ints or plain strings.
    checked = config_mapping(config, "a schedule", _SCHEDULE_KEYS)
    for key in ("name", "factors", "fees"):
        if key not in checked:
            raise InvalidRule(f"a schedule needs {key!r}")
    fees_config = checked["fees"]
    if isinstance(fees_config, str | bytes) or not isinstance(fees_config, Iterable):
        raise InvalidRule("a schedule's fees must be a list")
    fees = [_config_fee(fee, registry) for fee in fees_config]
    split = _default_split()
    if "split" in checked:
        shares_config = checked["split"]
        if isinstance(shares_config, str | bytes) or not isinstance(shares_config, Iterable):
            raise InvalidRule("a schedule's split must be a list of shares")
        shares = []
        for share in shares_config:
            share_config = config_mapping(share, "a share", _SHARE_KEYS)
            if "party" not in share_config:
                raise InvalidRule("a share needs a party")
            shares.append(Share(**share_config))
        split = SplitRule(shares)
    return FeeSchedule(name=checked["name"], factors=checked["factors"], fees=fees, split=split)
