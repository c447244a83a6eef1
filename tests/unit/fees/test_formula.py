"""The safe formula evaluator: its grammar, exact Decimal arithmetic and typed errors."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest

from settlement_core.errors import InvalidRule, SettlementError
from settlement_core.fees import (
    FeeDivisionByZero,
    FeeEvaluationError,
    Formula,
    InvalidFactor,
    MissingFactor,
)

D = Decimal


def run(source: str, **values: Any) -> Decimal:
    """Compile `source` and evaluate it with the keyword values as factors."""
    return Formula(source).evaluate(values)


class TestAccepted:
    """Every construct of the grammar."""

    def test_decimal_literals_are_exact(self) -> None:
        """0.1 + 0.2 is exactly 0.3: literals are read from the text, never via float."""
        assert run("0.1 + 0.2") == D("0.3")
        assert str(run("0.10")) == "0.10"

    def test_long_literal_keeps_every_digit(self) -> None:
        """A literal a float would mangle survives intact."""
        assert run("0.1000000000000000055511151231257827") == D(
            "0.1000000000000000055511151231257827"
        )

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("price - coupon", D("88.00")),
            ("price + coupon", D("112.00")),
            ("price * rate", D("5.0000")),
            ("price / 4", D("25")),
            ("-coupon", D("-12.00")),
            ("-(price - coupon) * 2", D("-176.00")),
            ("price - coupon * 2", D("76.00")),
            ("(price - coupon) * 2", D("176.00")),
        ],
    )
    def test_arithmetic_and_precedence(self, source: str, expected: Decimal) -> None:
        """+ - * / and unary minus, with Python's precedence and parentheses."""
        factors = {"price": D("100.00"), "coupon": D("12.00"), "rate": D("0.05")}
        assert Formula(source).evaluate(factors) == expected

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("1 if x < 2 else 0", D(1)),
            ("1 if x <= 1 else 0", D(1)),
            ("1 if x > 1 else 0", D(0)),
            ("1 if x >= 1 else 0", D(1)),
            ("1 if x == 1.00 else 0", D(1)),
            ("1 if x != 1 else 0", D(0)),
            ("1 if 0 < x <= 1 else 0", D(1)),
            ("1 if 0 < x < 1 else 0", D(0)),
            ("1 if x > 0 and x < 2 else 0", D(1)),
            ("1 if x > 5 or x < 0 else 0", D(0)),
            ("1 if not x > 5 else 0", D(1)),
            ("1 if not (x > 0 and x > 5) else 0", D(1)),
            ("2 if x > 5 else 3 if x > 0 else 4", D(3)),
        ],
    )
    def test_comparisons_booleans_and_conditionals(self, source: str, expected: Decimal) -> None:
        """Comparisons (chained too), and/or/not and nested conditional expressions."""
        assert run(source, x=D(1)) == expected

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("min(a, b)", D("-2.5")),
            ("max(a, b, 7)", D(7)),
            ("abs(b)", D("2.5")),
            ("round_half_up(2.345, 2)", D("2.35")),
            ("round_half_even(2.345, 2)", D("2.34")),
            ("round_down(2.349, 2)", D("2.34")),
            ("round_up(2.341, 2)", D("2.35")),
            ("round_half_up(2.5)", D(3)),
            ("round_half_even(2.5)", D(2)),
            ("round_half_up(-2.5)", D(-3)),
            ("round_down(-2.7)", D(-2)),
            ("round_up(-2.1)", D(-3)),
            ("round_half_up(2.345, places=2)", D("2.35")),
            ("round_half_up(1234.5, 0)", D(1235)),
        ],
    )
    def test_functions(self, source: str, expected: Decimal) -> None:
        """min, max, abs and the four rounding functions (places default 0)."""
        assert run(source, a=D(3), b=D("-2.5")) == expected

    def test_rounding_keeps_the_requested_exponent(self) -> None:
        """round_* results carry exactly `places` decimals."""
        assert str(run("round_half_up(x, 2)", x=D(5))) == "5.00"

    def test_division_rounds_half_even_at_sixty_digits(self) -> None:
        """1/3 has sixty significant digits, the last one rounded half-even."""
        assert run("1 / 3") == D("0." + "3" * 60)
        assert run("2 / 3") == D("0." + "6" * 59 + "7")

    def test_multiplication_is_exact(self) -> None:
        """A 44-digit product keeps every digit (the default context would keep 28)."""
        units = 9999999999999999999999  # 99999999999999999999.99 in hundredths
        product = run("x * x", x=D("99999999999999999999.99"))
        assert product == D(f"{units * units}E-4")
        assert len(product.as_tuple().digits) == 44

    def test_inputs_are_listed_in_order_of_first_mention(self) -> None:
        """`inputs` names each factor once, first mention first, and no function."""
        formula = Formula("max(rate * price, floor) - rate + coupon")
        assert formula.inputs == ("rate", "price", "floor", "coupon")

    def test_whitespace_and_parentheses_around_a_formula_are_fine(self) -> None:
        """Leading and trailing blanks are stripped; parentheses allow line breaks."""
        assert run("  (price\n - 1)  ", price=D(3)) == D(2)
        assert Formula("  price ").source == "price"

    def test_extra_factor_values_are_ignored(self) -> None:
        """Values for names the formula does not mention do not matter."""
        assert run("price", price=D(1), other=D(2)) == D(1)

    def test_int_factor_values_are_exact(self) -> None:
        """Ints are accepted as exact values."""
        assert run("price * 2", price=3) == D(6)

    def test_unicode_names_are_allowed(self) -> None:
        """Seed 004 writes 货款 = 商品价格 - 优惠券: identifiers may be Chinese."""
        assert run("商品价格 - 优惠券", 商品价格=D("100"), 优惠券=D("15.5")) == D("84.5")

    def test_formulas_are_values(self) -> None:
        """Equal sources give equal, hashable formulas."""
        assert Formula("a + b") == Formula(" a + b ")
        assert hash(Formula("a + b")) == hash(Formula("a + b"))
        assert Formula("a + b") != Formula("b + a")

    def test_rounds_itself_only_for_an_outermost_round_call(self) -> None:
        """A formula fixes its own rounding only when its last operation rounds."""
        assert Formula("round_down(x * 0.1, 2)").rounds_itself
        assert not Formula("round_down(x, 2) + 1").rounds_itself
        assert not Formula("min(round_down(x, 2), 1)").rounds_itself

    def test_formula_is_a_calculator(self) -> None:
        """`calculate` is `evaluate` under the Calculator protocol's name."""
        assert Formula("a * 2").calculate({"a": D("1.5")}) == D("3.0")


class TestShortCircuit:
    """`and`, `or` and conditionals evaluate only what they need."""

    def test_guarded_division_by_zero_is_not_evaluated(self) -> None:
        """`a / b if b != 0 else 0` is 0 when b is 0."""
        assert run("a / b if b != 0 else 0", a=D(1), b=D(0)) == 0

    def test_and_stops_at_the_first_false(self) -> None:
        """The right operand of a false `and` is never evaluated."""
        assert run("1 if b != 0 and a / b > 1 else 2", a=D(1), b=D(0)) == D(2)

    def test_or_stops_at_the_first_true(self) -> None:
        """The right operand of a true `or` is never evaluated."""
        assert run("1 if b == 0 or a / b > 1 else 2", a=D(1), b=D(0)) == D(1)


class TestRefused:
    """Everything outside the whitelist is refused when the formula is defined."""

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("__import__('os')", "unknown function '__import__'"),
            ("eval('1')", "unknown function 'eval'"),
            ("open('x')", "unknown function 'open'"),
            ("round(x, 2)", "unknown function 'round'"),
            ("x.y", "attribute access"),
            ("x.__class__", "attribute access"),
            ("(1).real", "attribute access"),
            ("x.y()", "attribute access"),
            ("x[0]", "subscripts"),
            ("lambda: 1", "lambdas"),
            ("(lambda: 1)()", "lambdas"),
            ("'a'", "strings"),
            ("b'a'", "bytes"),
            ("f'{x}'", "f-strings"),
            ("1e3", "plain decimals"),
            ("1E-2", "plain decimals"),
            ("0x1f", "plain decimals"),
            ("1_000", "plain decimals"),
            (".5", "plain decimals"),
            ("5.", "plain decimals"),
            ("1j", "imaginary"),
            ("True", "constant True"),
            ("None", "constant None"),
            ("x ** 2", "operator \\*\\*"),
            ("x // 2", "operator //"),
            ("x % 2", "operator %"),
            ("x @ y", "operator @"),
            ("x << 1", "operator <<"),
            ("x | 1", "operator \\|"),
            ("x & 1", "operator &"),
            ("x ^ 1", "operator \\^"),
            ("~x", "operator ~"),
            ("+x", "unary \\+"),
            ("1 if x is y else 0", "operator is"),
            ("1 if x is not y else 0", "operator is not"),
            ("1 if x in y else 0", "operator in"),
            ("1 if x not in y else 0", "operator not in"),
            ("[1, 2]", "lists"),
            ("(1, 2)", "tuples"),
            ("{1}", "sets"),
            ("{1: 2}", "dicts"),
            ("[x for x in y]", "comprehensions"),
            ("sum(x for x in y)", "unknown function 'sum'"),
            ("min(*x)", "star arguments"),
            ("(y := 1)", "assignment expressions"),
            ("x[1:2]", "subscripts"),
            ("...", "constant ..."),
        ],
    )
    def test_disallowed_syntax(self, source: str, message: str) -> None:
        """Each refused construct raises InvalidRule naming what is wrong."""
        with pytest.raises(InvalidRule, match=message):
            Formula(source)

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("price > 1", "expected a number, got the condition 'price > 1'"),
            ("price and 1", "expected a number"),
            ("not price", "expected a number"),
            ("1 if price else 0", "expected a condition"),
            ("1 if price + 1 else 0", "expected a condition"),
            ("1 + (a > 1)", "expected a number"),
            ("min(a > 1, 2)", "expected a number"),
        ],
    )
    def test_numbers_and_conditions_do_not_mix(self, source: str, message: str) -> None:
        """A condition where a number belongs, or the reverse, is refused at definition."""
        with pytest.raises(InvalidRule, match=message):
            Formula(source)

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("min(1)", "at least two arguments"),
            ("max()", "at least two arguments"),
            ("abs(1, 2)", "exactly one argument"),
            ("abs()", "exactly one argument"),
            ("min(1, 2, key=3)", "no keyword arguments"),
            ("round_up()", "a number and optional places"),
            ("round_up(1, 2, 3)", "a number and optional places"),
            ("round_up(1, 2, places=2)", "a number and optional places"),
            ("round_up(1, digits=2)", "only the keyword places"),
            ("round_up(1, **x)", "only the keyword places"),
            ("round_up(1, 19)", "from 0 to 18"),
            ("round_up(1, -1)", "from 0 to 18"),
            ("round_up(1, 1.5)", "from 0 to 18"),
            ("round_up(1, x)", "from 0 to 18"),
            ("round_up(1, True)", "from 0 to 18"),
            ("round_up(1, 0x2)", "from 0 to 18"),
        ],
    )
    def test_bad_function_calls(self, source: str, message: str) -> None:
        """Arity, keywords and `places` are checked at definition."""
        with pytest.raises(InvalidRule, match=message):
            Formula(source)

    def test_function_name_used_as_a_value(self) -> None:
        """A bare function name is not a factor."""
        with pytest.raises(InvalidRule, match="min is a function"):
            Formula("min + 1")

    def test_name_that_is_not_nfkc_normal(self) -> None:
        """Python would fold 'ﬁ' to 'fi'; the formula would never see the declared name."""
        with pytest.raises(InvalidRule, match="normal form"):
            Formula("ﬁee + 1")

    @pytest.mark.parametrize("source", ["", "   ", "price +", "price price", "if", "a = 1"])
    def test_empty_or_invalid_syntax(self, source: str) -> None:
        """Empty text and syntax errors raise InvalidRule."""
        with pytest.raises(InvalidRule, match=r"empty|syntax"):
            Formula(source)

    def test_source_must_be_a_string(self) -> None:
        """A number is not a formula."""
        with pytest.raises(InvalidRule, match="string"):
            Formula(1)

    def test_overlong_formula(self) -> None:
        """Formulas are at most 1000 characters."""
        with pytest.raises(InvalidRule, match="1000 characters"):
            Formula("1" + " + 1" * 300)

    @pytest.mark.parametrize("source", ["-" * 200 + "1", "(" * 90 + "1" + " + 1)" * 90])
    def test_deep_nesting(self, source: str) -> None:
        """Pathological nesting is refused, never a RecursionError."""
        with pytest.raises(InvalidRule, match=r"nests too deeply|syntax"):
            Formula(source)


class TestRunTimeErrors:
    """Problems that only a particular order's factors reveal."""

    def test_division_by_zero_is_typed(self) -> None:
        """x / 0 raises FeeDivisionByZero naming the divisor, also a ZeroDivisionError."""
        with pytest.raises(FeeDivisionByZero, match="divides by zero: b - a is 0") as caught:
            run("price / (b - a)", price=D(1), a=D(2), b=D("2.00"))
        assert isinstance(caught.value, SettlementError)
        assert isinstance(caught.value, ZeroDivisionError)

    def test_zero_divided_by_zero_is_typed_too(self) -> None:
        """0 / 0 is the same typed error, not decimal's InvalidOperation."""
        with pytest.raises(FeeDivisionByZero):
            run("0 / x", x=D(0))

    def test_missing_factors_are_named(self) -> None:
        """Every missing factor is listed, sorted."""
        with pytest.raises(MissingFactor, match="coupon, price") as caught:
            Formula("price - coupon + rate").evaluate({"rate": D(1)})
        assert caught.value.names == ("coupon", "price")

    @pytest.mark.parametrize(
        "value", [0.1, D("NaN"), D("Infinity"), D("-Infinity"), "1.00", True, None]
    )
    def test_bad_factor_values(self, value: object) -> None:
        """Floats, NaN, infinities, strings and booleans are refused."""
        with pytest.raises(InvalidFactor, match="price"):
            run("price", price=value)

    def test_more_than_sixty_digits_is_an_error_not_a_rounding(self) -> None:
        """An addition needing 61 significant digits raises instead of rounding silently."""
        with pytest.raises(FeeEvaluationError, match="60 significant digits"):
            run("big + small", big=D("1E+30"), small=D("1E-30"))

    def test_overflow_is_an_error(self) -> None:
        """A product beyond decimal's exponent range raises FeeEvaluationError."""
        with pytest.raises(FeeEvaluationError):
            run("x * x", x=D("9E+999999999999999999"))

    def test_ambient_decimal_context_does_not_matter(self) -> None:
        """A caller's low-precision context changes nothing."""
        with decimal.localcontext() as ctx:
            ctx.prec = 3
            ctx.rounding = decimal.ROUND_FLOOR
            assert run("x * y + 0.001", x=D("123.45"), y=D("1.01")) == D("124.6855")
            assert run("round_half_up(2.345, 2)") == D("2.35")
