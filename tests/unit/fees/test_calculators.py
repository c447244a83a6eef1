"""Pluggable calculators: the registry, the built-in types and schedules from configuration."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from attrs import field, frozen

from settlement_core.errors import InvalidRule
from settlement_core.fees import (
    Calculator,
    CalculatorRegistry,
    Fee,
    FeeSchedule,
    Formula,
    Share,
    SplitRule,
    TieredRate,
    UnknownCalculator,
    config_decimal,
    schedule_from_config,
)
from settlement_core.money import Rounding, money

D = Decimal


def _number(value: object) -> Decimal:
    return config_decimal(value, "capped commission parameter")


@frozen
class CappedCommission:
    """A commission type a host adds without touching the engine: rate x base, capped."""

    base: str
    # config_decimal reads config numbers exactly and refuses floats.
    rate: Decimal = field(converter=_number)
    cap: Decimal = field(converter=_number)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Reads only the base."""
        return (self.base,)

    def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
        """min(rate x base, cap), keeping the base's sign."""
        value = values[self.base] * self.rate
        return max(min(value, self.cap), -self.cap)


def registry() -> CalculatorRegistry:
    """The built-ins plus the host's capped commission."""
    calculators = CalculatorRegistry.with_builtins()
    calculators.register("capped_commission", CappedCommission)
    return calculators


class TestRegistry:
    """Registering and creating calculator types."""

    def test_builtins(self) -> None:
        """The formula and tiered-rate types are there from the start."""
        assert CalculatorRegistry.with_builtins().kinds == ("formula", "tiered_rate")
        assert CalculatorRegistry().kinds == ()

    def test_new_type_is_created_by_name(self) -> None:
        """A registered class is built from its parameters."""
        created = registry().create("capped_commission", {"base": "p", "rate": D("0.1"), "cap": 5})
        assert created == CappedCommission("p", D("0.1"), D(5))

    def test_duplicate_registration_is_refused(self) -> None:
        """Re-registering a name would silently change every schedule using it."""
        calculators = registry()
        with pytest.raises(InvalidRule, match="already registered"):
            calculators.register("capped_commission", CappedCommission)
        with pytest.raises(InvalidRule, match="already registered"):
            calculators.register("formula", Formula)

    def test_unknown_type_lists_the_known_ones(self) -> None:
        """Asking for an unregistered type raises UnknownCalculator, an InvalidRule."""
        with pytest.raises(UnknownCalculator, match="'rebate'; registered: capped_commission"):
            registry().create("rebate", {})

    @pytest.mark.parametrize("kind", ["", "has space", "min", 3])
    def test_type_names_are_identifiers(self, kind: Any) -> None:
        """Type names follow the same rule as fee names."""
        with pytest.raises(InvalidRule, match="calculator type"):
            CalculatorRegistry().register(kind, CappedCommission)

    def test_factory_must_be_callable(self) -> None:
        """Registering a non-callable is refused."""
        with pytest.raises(InvalidRule, match="callable"):
            CalculatorRegistry().register("x", 42)  # type: ignore[arg-type]

    def test_bad_parameters_are_an_invalid_rule(self) -> None:
        """A TypeError from the factory becomes InvalidRule naming the type."""
        with pytest.raises(InvalidRule, match="'capped_commission' refused its parameters"):
            registry().create("capped_commission", {"base": "p", "ratio": 1})

    def test_factory_must_build_a_calculator(self) -> None:
        """A factory returning something without inputs/calculate is refused."""
        calculators = CalculatorRegistry()

        def broken() -> Any:
            return object()

        calculators.register("broken", broken)
        with pytest.raises(InvalidRule, match="did not build a Calculator"):
            calculators.create("broken", {})

    def test_formula_type_builds_a_formula(self) -> None:
        """A config-defined formula calculator is just a Formula."""
        built: Calculator = registry().create("formula", {"source": "rate * price"})
        assert built == Formula("rate * price")
        assert built.calculate({"rate": D("0.1"), "price": D(50)}) == D("5.0")


class TestTieredRate:
    """Seed 001's rebate: a rate chosen by the volume bracket reached."""

    TIERS = (("10000", "0.01"), ("50000.00", "0.02"), (100000, D("0.025")))

    @pytest.mark.parametrize(
        ("volume", "expected"),
        [
            ("9999.99", "0"),  # below the first tier: no rebate
            ("10000", "100.00"),  # 10000 x 0.01
            ("49999.99", "499.9999"),  # still 1 %
            ("50000", "1000.0000"),  # 2 % from 50000
            ("120000.00", "3000.00000"),  # 2.5 % from 100000
            ("-60000", "-1200.0000"),  # a refund mirrors its sale's tier
        ],
    )
    def test_rate_of_the_reached_tier(self, volume: str, expected: str) -> None:
        """The whole volume earns the rate of the highest tier it reaches."""
        rebate = TieredRate("volume", self.TIERS)
        assert rebate.calculate({"volume": D(volume)}) == D(expected)
        assert rebate.inputs == ("volume",)

    @pytest.mark.parametrize(
        ("tiers", "message"),
        [
            ((), "must not be empty"),
            ("0.1", "sequence"),
            ((("1", "0.1", "x"),), "pair"),
            ((("1", 0.1),), "rate"),
            ((("1e3", "0.1"),), "threshold"),
            ((("-1", "0.1"),), "negative"),
            ((("5", "0.1"), ("5", "0.2")), "increase"),
        ],
    )
    def test_bad_tiers(self, tiers: Any, message: str) -> None:
        """Tiers are exact, non-negative and strictly increasing."""
        with pytest.raises(InvalidRule, match=message):
            TieredRate("volume", tiers)


class TestScheduleFromConfig:
    """Schedules loaded from plain data, naming calculator types."""

    CONFIG: Mapping[str, Any] = {
        "name": "rebates-2024",
        "factors": ["price", "volume", "rate"],
        "fees": [
            {"name": "commission", "formula": "price * rate", "rounding": "HALF_UP"},
            {
                "name": "rebate",
                "calculator": "tiered_rate",
                "params": {"base": "volume", "tiers": [["10000", "0.01"], ["50000", "0.02"]]},
                "rounding": "DOWN",
            },
            {
                "name": "capped",
                "calculator": "capped_commission",
                "params": {"base": "price", "rate": "0.5", "cap": "20"},
                "rounding": None,
            },
        ],
        "split": [
            {"party": "@seller", "ratio": "3"},
            {"party": "@supplier", "ratio": 1, "line": "supplier_share"},
        ],
    }

    def test_config_builds_the_same_schedule_as_code(self) -> None:
        """Every key maps onto the code API."""
        schedule = schedule_from_config(self.CONFIG, registry())
        assert schedule == FeeSchedule(
            name="rebates-2024",
            factors=("price", "volume", "rate"),
            fees=(
                Fee("commission", "price * rate", Rounding.HALF_UP),
                Fee(
                    "rebate",
                    TieredRate("volume", (("10000", "0.01"), ("50000", "0.02"))),
                    Rounding.DOWN,
                ),
                Fee("capped", CappedCommission("price", D("0.5"), D(20)), None),
            ),
            split=SplitRule((Share("@seller", D(3)), Share("@supplier", D(1), "supplier_share"))),
        )

    def test_config_schedule_computes(self) -> None:
        """commission 80.00 x 0.035 = 2.80; rebate 60000 x 0.02 = 1200; capped 40 -> 20."""
        schedule = schedule_from_config(self.CONFIG, registry())
        result = schedule.compute(
            "USD", {"price": D("80.00"), "volume": D(60000), "rate": D("0.035")}
        )
        assert dict(result.amounts) == {
            "commission": money("2.80", "USD"),
            "rebate": money("1200.00", "USD"),
            "capped": money("20.00", "USD"),
        }

    def test_split_defaults_to_the_seller(self) -> None:
        """Without a split key the seller role takes the remainder."""
        config = {**self.CONFIG, "fees": self.CONFIG["fees"][:1], "factors": ["price", "rate"]}
        config.pop("split")
        assert schedule_from_config(config, registry()).split == SplitRule.residual("@seller")

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"fee": {"name": "a", "formula": "price", "rounding": "HALF_UP", "round": 1}},
             "unknown keys: round"),
            ({"fee": {"name": "a", "formula": "price"}}, "must state its rounding"),
            ({"fee": {"name": "a", "formula": "price", "rounding": "NEAREST"}}, "HALF_EVEN"),
            ({"fee": {"name": "a", "formula": "price", "rounding": 4}}, "must be one of"),
            ({"fee": {"name": "a", "rounding": "DOWN"}}, "exactly one of formula or calculator"),
            ({"fee": {"name": "a", "formula": "p", "calculator": "formula", "rounding": "DOWN"}},
             "exactly one of formula or calculator"),
            ({"fee": {"name": "a", "formula": "price", "params": {}, "rounding": "DOWN"}},
             "params belong to a calculator"),
            ({"fee": {"name": "a", "calculator": "bonus", "rounding": "DOWN"}},
             "unknown calculator type 'bonus'"),
            ({"fee": "price"}, "a fee must be a mapping"),
            ({"schedule": {"name": "s", "factors": ["price"]}}, "needs 'fees'"),
            ({"schedule": {"name": "s", "factors": ["price"], "fees": "x"}}, "must be a list"),
            ({"schedule": {"name": "s", "factors": ["price"], "fees": [], "extra": 1}},
             "unknown keys: extra"),
            ({"split": [{"ratio": "1"}]}, "needs a party"),
            ({"split": [{"party": "@seller", "ratio": 0.5}]}, "share ratio"),
            ({"split": [{"party": "@seller", "share": "1"}]}, "unknown keys: share"),
            ({"split": "@seller"}, "list of shares"),
        ],
    )  # fmt: skip
    def test_config_mistakes_are_refused(self, change: Mapping[str, Any], message: str) -> None:
        """Typos and missing keys fail loudly at load time."""
        config: dict[str, Any] = {
            "name": "s",
            "factors": ["price"],
            "fees": [{"name": "a", "formula": "price", "rounding": "HALF_UP"}],
        }
        if "fee" in change:
            config["fees"] = [change["fee"]]
        if "split" in change:
            config["split"] = change["split"]
        if "schedule" in change:
            config = dict(change["schedule"])
        with pytest.raises(InvalidRule, match=message):
            schedule_from_config(config, registry())
