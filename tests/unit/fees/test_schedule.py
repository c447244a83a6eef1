"""Fee schedules: definition checks, dependency order, rounding, factors and snapshots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from settlement_core.errors import InvalidRule, UnknownCurrency
from settlement_core.fees import (
    Fee,
    FeeEvaluationError,
    FeeSchedule,
    Formula,
    InvalidFactor,
    MissingFactor,
    Order,
    Share,
    SplitRule,
)
from settlement_core.money import Rounding, money

D = Decimal
HALF_UP = Rounding.HALF_UP
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def standard() -> FeeSchedule:
    """Seed 004's formulas: goods payment = price - coupon; commission = rate x goods."""
    return FeeSchedule(
        name="standard",
        factors=("price", "coupon", "rate"),
        fees=(
            # Declared before the fee it uses: evaluation order still puts goods first.
            Fee("commission", "goods * rate", HALF_UP),
            Fee("goods", "price - coupon", HALF_UP, booked=False),
        ),
    )


def order(**factors: Any) -> Order:
    """A USD order carrying the given factors."""
    return Order(
        order_id="o-1",
        tenant_id="t1",
        business="retail",
        amount=money("100.00", "USD"),
        at=NOW,
        parties={"seller": "shop-1"},
        factors=factors,
    )


class RecordingProvider:
    """A FactorProvider that knows fixed values and records what it was asked."""

    def __init__(self, known: Mapping[str, Any]) -> None:
        self.known = dict(known)
        self.asked: list[tuple[tuple[str, ...], str]] = []

    def factors(self, names: Sequence[str], order: Order) -> Mapping[str, Decimal]:
        """The known values among `names`."""
        self.asked.append((tuple(names), order.order_id))
        return {name: self.known[name] for name in names if name in self.known}


class TestDefinition:
    """What a schedule refuses when it is defined."""

    def test_evaluation_order_follows_dependencies(self) -> None:
        """A fee comes after every fee it uses; otherwise declaration order holds."""
        schedule = FeeSchedule(
            name="s",
            factors=("a",),
            fees=(
                Fee("total", "x + y", HALF_UP),
                Fee("y", "x * 2", HALF_UP),
                Fee("x", "a", HALF_UP),
                Fee("z", "a + 1", HALF_UP),
            ),
        )
        assert schedule.evaluation_order == ("x", "y", "total", "z")

    def test_cycle_is_refused_with_its_path(self) -> None:
        """a -> b -> c -> a is named in the error."""
        with pytest.raises(InvalidRule, match="cycle: a -> b -> c -> a"):
            FeeSchedule(
                name="s",
                factors=("f",),
                fees=(
                    Fee("a", "b + f", HALF_UP),
                    Fee("b", "c", HALF_UP),
                    Fee("c", "a", HALF_UP),
                ),
            )

    def test_self_reference_is_a_cycle(self) -> None:
        """A fee that uses itself is refused."""
        with pytest.raises(InvalidRule, match="cycle: a -> a"):
            FeeSchedule(name="s", factors=("f",), fees=(Fee("a", "a + f", HALF_UP),))

    def test_cycle_behind_a_healthy_fee_is_found(self) -> None:
        """Fees that only wait on a cycle are not reported as the cycle."""
        with pytest.raises(InvalidRule, match="cycle: b -> c -> b"):
            FeeSchedule(
                name="s",
                factors=("f",),
                fees=(
                    Fee("ok", "f", HALF_UP),
                    Fee("a", "b", HALF_UP),
                    Fee("b", "c", HALF_UP),
                    Fee("c", "b + ok", HALF_UP),
                ),
            )

    def test_unknown_names_are_listed_per_fee(self) -> None:
        """Every unknown name is named, with the fee that uses it."""
        with pytest.raises(InvalidRule, match="'a' uses rat, bonus; fee 'b' uses cupon"):
            FeeSchedule(
                name="s",
                factors=("price",),
                fees=(
                    Fee("a", "price * rat + bonus", HALF_UP),
                    Fee("b", "price - cupon", HALF_UP),
                ),
            )

    def test_unused_factor_is_refused(self) -> None:
        """A declared factor no fee uses is a configuration mistake."""
        with pytest.raises(InvalidRule, match="no fee uses: coupon"):
            FeeSchedule(name="s", factors=("price", "coupon"), fees=(Fee("a", "price", HALF_UP),))

    def test_duplicate_factor_and_fee_names_are_refused(self) -> None:
        """Names are unique among factors, among fees, and between the two."""
        with pytest.raises(InvalidRule, match="factors declared twice: p"):
            FeeSchedule(name="s", factors=("p", "p"), fees=(Fee("a", "p", HALF_UP),))
        with pytest.raises(InvalidRule, match="fees defined twice: a"):
            FeeSchedule(
                name="s", factors=("p",), fees=(Fee("a", "p", HALF_UP), Fee("a", "p", HALF_UP))
            )
        with pytest.raises(InvalidRule, match="both factor and fee"):
            FeeSchedule(name="s", factors=("p", "a"), fees=(Fee("a", "p", HALF_UP),))

    def test_schedule_needs_a_fee(self) -> None:
        """An empty schedule is refused."""
        with pytest.raises(InvalidRule, match="at least one fee"):
            FeeSchedule(name="s", factors=(), fees=())

    @pytest.mark.parametrize("name", ["", "has space", "min", "class", "1st", 7])
    def test_bad_fee_names(self, name: Any) -> None:
        """Fee names are identifiers that are neither keywords nor functions."""
        with pytest.raises(InvalidRule, match="fee name"):
            Fee(name, "1", HALF_UP)

    @pytest.mark.parametrize("name", ["", "a b", "x" * 65])
    def test_bad_schedule_names(self, name: str) -> None:
        """Schedule names follow the rule id alphabet."""
        with pytest.raises(InvalidRule, match="schedule name"):
            FeeSchedule(name=name, factors=("p",), fees=(Fee("a", "p", HALF_UP),))

    def test_fee_without_rounding_must_round_itself(self) -> None:
        """rounding=None is allowed only when the formula's outermost call rounds."""
        with pytest.raises(InvalidRule, match="needs a rounding"):
            Fee("a", "price * 0.05", None)
        assert Fee("a", "round_half_up(price * 0.05, 2)", None).rounding is None

    def test_rounding_must_be_a_named_policy(self) -> None:
        """A decimal module constant is not a Rounding."""
        with pytest.raises(InvalidRule, match="Rounding"):
            Fee("a", "p", "ROUND_HALF_UP")  # type: ignore[arg-type]

    def test_booked_must_be_a_bool(self) -> None:
        """A truthy string does not change whether a fee is booked."""
        with pytest.raises(InvalidRule, match="booked"):
            Fee("a", "p", HALF_UP, booked="no")  # type: ignore[arg-type]

    def test_formula_strings_become_formulas(self) -> None:
        """A fee's formula string is compiled once, at definition."""
        assert Fee("a", "p + 1", HALF_UP).formula == Formula("p + 1")

    def test_something_that_is_not_a_calculator_is_refused(self) -> None:
        """Only strings and Calculators are formulas."""
        with pytest.raises(InvalidRule, match="Calculator"):
            Fee("a", 42, HALF_UP)

    def test_split_line_may_not_reuse_a_booked_fee_name(self) -> None:
        """Keys are derived from line names, so a share line cannot shadow a fee line."""
        with pytest.raises(InvalidRule, match="reuse booked fee names"):
            FeeSchedule(
                name="s",
                factors=("p",),
                fees=(Fee("commission", "p", HALF_UP),),
                split=SplitRule.residual("@seller", line="commission"),
            )

    def test_default_split_gives_the_remainder_to_the_seller(self) -> None:
        """Without a split rule the seller role absorbs what fees leave."""
        assert standard().split == SplitRule((Share("@seller"),))


class TestEvaluation:
    """Computing fees for one order."""

    def test_fees_are_exact_money_in_declaration_order(self) -> None:
        """goods = 100.00 - 12.50 = 87.50; commission = 87.50 x 0.035 = 3.0625 -> 3.06."""
        result = standard().evaluate(order(price=D("100.00"), coupon=D("12.50"), rate=D("0.035")))
        assert dict(result.amounts) == {
            "commission": money("3.06", "USD"),
            "goods": money("87.50", "USD"),
        }
        assert list(result.amounts) == ["commission", "goods"]
        assert result.schedule == "standard"
        assert result.currency == "USD"

    def test_rounding_policy_is_applied_per_fee(self) -> None:
        """2.345 rounds to 2.35 half-up, 2.34 half-even, 2.34 down, 2.35 up."""
        fees = tuple(Fee(rounding.name.lower(), "x", rounding) for rounding in Rounding)
        schedule = FeeSchedule(name="s", factors=("x",), fees=fees)
        result = schedule.compute("USD", {"x": D("2.345")})
        assert {name: str(m.amount) for name, m in result.amounts.items()} == {
            "half_even": "2.34",
            "half_up": "2.35",
            "down": "2.34",
            "up": "2.35",
            "floor": "2.34",
            "ceiling": "2.35",
        }

    def test_rounding_is_to_the_currency_exponent(self) -> None:
        """The same value is 1235 JPY, 1234.57 USD and 1234.568 KWD half-up."""
        schedule = FeeSchedule(name="s", factors=("x",), fees=(Fee("a", "x", HALF_UP),))
        for currency, expected in (("JPY", "1235"), ("USD", "1234.57"), ("KWD", "1234.568")):
            result = schedule.compute(currency, {"x": D("1234.5675")})
            assert result.amounts["a"] == money(expected, currency)

    def test_later_fee_sees_the_rounded_earlier_fee(self) -> None:
        """tax = fee x 10 uses fee = 0.125 -> 0.13 (booked), giving 1.30, not 1.25."""
        schedule = FeeSchedule(
            name="s",
            factors=("x",),
            fees=(Fee("fee", "x", HALF_UP), Fee("tax", "fee * 10", HALF_UP)),
        )
        result = schedule.compute("USD", {"x": D("0.125")})
        assert result.amounts["tax"] == money("1.30", "USD")

    def test_self_rounding_formula_must_fit_the_currency(self) -> None:
        """round_half_up(x, 2) is fine in USD but has too many places for JPY."""
        schedule = FeeSchedule(
            name="s", factors=("x",), fees=(Fee("a", "round_half_up(x * 0.1, 2)", None),)
        )
        assert schedule.compute("USD", {"x": D("12.34")}).amounts["a"] == money("1.23", "USD")
        assert schedule.compute("JPY", {"x": D("1230")}).amounts["a"] == money("123", "JPY")
        with pytest.raises(FeeEvaluationError, match="more decimal places than JPY"):
            schedule.compute("JPY", {"x": D("1234")})

    def test_missing_factor_at_run_time_is_named(self) -> None:
        """Without a provider, a factor the order lacks raises MissingFactor naming it."""
        with pytest.raises(MissingFactor, match="schedule 'standard': coupon, rate") as caught:
            standard().evaluate(order(price=D(1)))
        assert caught.value.names == ("coupon", "rate")

    def test_provider_supplies_missing_factors_and_they_are_snapshotted(self) -> None:
        """The provider is asked once for exactly the missing names; the snapshot has all."""
        provider = RecordingProvider({"rate": D("0.05"), "coupon": D("5.00"), "price": D(999)})
        result = standard().evaluate(order(price=D("105.00")), provider)
        assert provider.asked == [(("coupon", "rate"), "o-1")]
        assert dict(result.factors) == {
            "price": D("105.00"),
            "coupon": D("5.00"),
            "rate": D("0.05"),
        }
        assert result.provided == ("coupon", "rate")
        assert result.amounts["commission"] == money("5.00", "USD")

    def test_provider_is_not_asked_when_nothing_is_missing(self) -> None:
        """Factors the order carries are never overridden by the provider."""
        provider = RecordingProvider({"rate": D(1)})
        result = standard().evaluate(
            order(price=D(10), coupon=D(0), rate=D("0.1")), provider=provider
        )
        assert provider.asked == []
        assert result.provided == ()
        assert result.factors["rate"] == D("0.1")

    def test_factor_the_provider_does_not_know_is_still_missing(self) -> None:
        """A partial answer leaves the rest missing, named in the error."""
        with pytest.raises(MissingFactor, match="rate"):
            standard().evaluate(order(price=D(10)), RecordingProvider({"coupon": D(1)}))

    def test_provider_values_are_checked(self) -> None:
        """A float from a provider is refused like any other float."""
        with pytest.raises(InvalidFactor, match="rate"):
            standard().evaluate(order(price=D(10), coupon=D(1)), RecordingProvider({"rate": 0.05}))

    def test_provider_must_return_a_mapping(self) -> None:
        """A provider returning a list is refused."""

        class Broken:
            def factors(self, names: Sequence[str], order: Order) -> Any:
                return [D(1)]

        with pytest.raises(InvalidFactor, match="mapping"):
            standard().evaluate(order(price=D(10), coupon=D(1)), Broken())

    def test_snapshot_replays_to_the_same_amounts(self) -> None:
        """compute() with the recorded snapshot gives back exactly the recorded fees."""
        schedule = standard()
        result = schedule.evaluate(
            order(price=D("19.99")), RecordingProvider({"coupon": D("2.5"), "rate": D("0.07")})
        )
        replayed = schedule.compute(result.currency, result.factors)
        assert replayed.amounts == result.amounts
        assert replayed.factors == result.factors

    def test_snapshot_is_frozen(self) -> None:
        """Nobody can edit the audit record after the fact."""
        result = standard().compute("USD", {"price": D(1), "coupon": D(0), "rate": D(0)})
        with pytest.raises(TypeError):
            result.factors["price"] = D(2)  # type: ignore[index]
        with pytest.raises(TypeError):
            result.amounts["goods"] = money("0", "USD")  # type: ignore[index]

    def test_unknown_currency_is_refused(self) -> None:
        """compute() needs a currency it can settle in."""
        with pytest.raises(UnknownCurrency):
            standard().compute("XXX", {"price": D(1), "coupon": D(0), "rate": D(0)})

    def test_negative_factors_give_mirrored_fees(self) -> None:
        """A refund priced with negated factors gives exactly the negated fees."""
        sale = standard().compute("USD", {"price": D("33.33"), "coupon": D(0), "rate": D("0.15")})
        refund = standard().compute(
            "USD", {"price": D("-33.33"), "coupon": D(0), "rate": D("0.15")}
        )
        # 33.33 x 0.15 = 4.9995 -> 5.00 half-up (away from zero), so the refund is -5.00.
        assert sale.amounts["commission"] == money("5.00", "USD")
        assert refund.amounts["commission"] == money("-5.00", "USD")


class TestCalculatorFees:
    """A fee computed by any Calculator, not only a formula."""

    def test_custom_calculator_result_must_be_a_finite_decimal(self) -> None:
        """A calculator returning a float is caught with the fee's name."""

        class Sloppy:
            inputs = ("x",)

            def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
                return float(values["x"]) * 0.1  # type: ignore[return-value]

        schedule = FeeSchedule(name="s", factors=("x",), fees=(Fee("a", Sloppy(), HALF_UP),))
        with pytest.raises(FeeEvaluationError, match="fee 'a' must compute a finite Decimal"):
            schedule.compute("USD", {"x": D(1)})

    def test_arithmetic_error_in_a_calculator_is_typed(self) -> None:
        """A plug-in's ZeroDivisionError becomes a FeeEvaluationError naming the fee."""

        class Dividing:
            inputs = ("x",)

            def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
                return 1 / values["x"]

        schedule = FeeSchedule(name="s", factors=("x",), fees=(Fee("a", Dividing(), HALF_UP),))
        with pytest.raises(FeeEvaluationError, match="fee 'a' could not be computed"):
            schedule.compute("USD", {"x": D(0)})

    def test_calculator_without_rounding_must_be_exact(self) -> None:
        """rounding=None on a calculator needs a value the currency can hold."""

        class Third:
            inputs = ("x",)

            def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
                return values["x"] / 3

        schedule = FeeSchedule(name="s", factors=("x",), fees=(Fee("a", Third(), None),))
        assert schedule.compute("USD", {"x": D("3.00")}).amounts["a"] == money("1.00", "USD")
        with pytest.raises(FeeEvaluationError, match="give the fee a rounding"):
            schedule.compute("USD", {"x": D(1)})

    def test_calculator_inputs_are_checked_like_formula_names(self) -> None:
        """A calculator reading an undeclared name is refused at definition."""

        class Reads:
            inputs = ("volume",)

            def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
                return values["volume"]

        with pytest.raises(InvalidRule, match="'a' uses volume"):
            FeeSchedule(
                name="s", factors=("x",), fees=(Fee("a", Reads(), HALF_UP), Fee("b", "x", HALF_UP))
            )
