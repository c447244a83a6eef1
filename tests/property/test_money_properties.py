"""Property tests for `settlement_core.money`: conservation, round trips, idempotence."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement_core.errors import CurrencyMismatch, ValidationError
from settlement_core.money import (
    Money,
    Rounding,
    allocate,
    amount_str,
    bounded_minor,
    convert,
    exponent,
    format_amount,
    from_minor,
    money,
    quantize,
    request_amount,
    require_same_currency,
    sum_money,
    to_minor,
)

# 0, 2, 3 and 4 decimal places.
CURRENCIES = ("JPY", "CLP", "USD", "EUR", "KWD", "BHD", "CLF")
MAX_UNITS = 10**15


def currencies() -> st.SearchStrategy[str]:
    """Currencies with every exponent we support."""
    return st.sampled_from(CURRENCIES)


def minor_units(min_value: int = -MAX_UNITS, max_value: int = MAX_UNITS) -> st.SearchStrategy[int]:
    """Counts of minor units, both signs."""
    return st.integers(min_value, max_value)


def roundings() -> st.SearchStrategy[Rounding]:
    """Every named policy."""
    return st.sampled_from(list(Rounding))


def raw_decimals(max_places: int = 8) -> st.SearchStrategy[Decimal]:
    """Finite Decimals with more places than any currency has."""
    return st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(-(10**18), 10**18),
        st.integers(0, max_places),
    )


def rates() -> st.SearchStrategy[Decimal]:
    """Positive exchange rates from 0.000001 to 10000 with up to 6 places."""
    return st.integers(1, 10**10).map(lambda n: Decimal(n).scaleb(-6))


def unit(currency: str) -> Fraction:
    """One minor unit of the currency, exactly."""
    return Fraction(1, 10 ** exponent(currency))


class TestAllocationProperties:
    """Largest remainder conserves the total and stays close to the exact shares."""

    @given(
        currency=currencies(),
        units=minor_units(),
        ratios=st.lists(st.integers(0, 1000), min_size=1, max_size=12).filter(any),
    )
    def test_parts_sum_to_the_total_and_stay_within_a_unit(
        self, currency: str, units: int, ratios: list[int]
    ) -> None:
        """Parts add up exactly; each is less than one minor unit from its exact share."""
        total = from_minor(units, currency)

        parts = allocate(total, ratios)

        assert len(parts) == len(ratios)
        assert sum_money(parts, currency) == total
        weight = sum(ratios)
        for part, ratio in zip(parts, ratios, strict=True):
            exact_share = Fraction(units * ratio, weight)
            assert abs(to_minor(part) - exact_share) < 1
            assert part.amount.as_tuple().exponent == -exponent(currency)
            if ratio == 0:
                assert to_minor(part) == 0
            else:
                assert to_minor(part) * units >= 0  # same sign as the total

    @given(
        currency=currencies(),
        units=minor_units(),
        ratios=st.lists(
            st.decimals(min_value=0, max_value=100, places=3, allow_nan=False),
            min_size=1,
            max_size=8,
        ).filter(any),
    )
    def test_decimal_ratios_conserve_the_total(
        self, currency: str, units: int, ratios: list[Decimal]
    ) -> None:
        """Decimal ratios behave like integer ones."""
        parts = allocate(from_minor(units, currency), ratios)

        assert sum(to_minor(part) for part in parts) == units

    @given(
        currency=currencies(),
        units=minor_units(),
        ratios=st.lists(st.integers(0, 50), min_size=1, max_size=8).filter(any),
    )
    def test_negating_the_amount_negates_every_part(
        self, currency: str, units: int, ratios: list[int]
    ) -> None:
        """A negative split mirrors the positive one."""
        positive = allocate(from_minor(abs(units), currency), ratios)
        negative = allocate(from_minor(-abs(units), currency), ratios)

        assert [to_minor(part) for part in negative] == [-to_minor(part) for part in positive]

    @given(
        currency=currencies(),
        units=minor_units(0),
        ratios=st.lists(st.integers(1, 20), min_size=1, max_size=8),
        factor=st.integers(1, 10),
    )
    def test_scaling_the_ratios_changes_nothing(
        self, currency: str, units: int, ratios: list[int], factor: int
    ) -> None:
        """Only the proportions matter."""
        total = from_minor(units, currency)

        assert allocate(total, ratios) == allocate(total, [r * factor for r in ratios])


class TestMinorUnitProperties:
    """Minor units, strings and Money convert into each other without loss."""

    @given(currency=currencies(), units=minor_units())
    def test_minor_units_round_trip(self, currency: str, units: int) -> None:
        """from_minor then to_minor gives the same count back."""
        assert to_minor(from_minor(units, currency)) == units

    @given(currency=currencies(), units=minor_units())
    def test_text_round_trip(self, currency: str, units: int) -> None:
        """amount_str parses back, through money(), to the same amount."""
        value = from_minor(units, currency)

        parsed = money(amount_str(value), currency)

        assert parsed == value
        assert format_amount(parsed) == format_amount(value)
        assert parsed.amount.as_tuple().exponent == -exponent(currency)

    @given(currency=currencies(), units=minor_units(), padding=st.integers(0, 5))
    def test_trailing_zeros_do_not_matter(self, currency: str, units: int, padding: int) -> None:
        """Extra trailing zeros are representable and give the same Money."""
        text = amount_str(from_minor(units, currency))
        padded = text + ("0" * padding if "." in text else ("." + "0" * padding if padding else ""))

        assert money(padded, currency) == from_minor(units, currency)


class TestQuantizeProperties:
    """Quantizing is idempotent and moves an amount by less than a unit."""

    @given(currency=currencies(), value=raw_decimals(), rounding=roundings())
    def test_quantize_is_idempotent(
        self, currency: str, value: Decimal, rounding: Rounding
    ) -> None:
        """Quantizing twice is quantizing once, whatever the second policy."""
        once = quantize(Money(value, currency), rounding)

        for again in Rounding:
            twice = quantize(once, again)
            assert twice == once
            assert format_amount(twice) == format_amount(once)

    @given(currency=currencies(), value=raw_decimals(), rounding=roundings())
    def test_quantize_moves_less_than_one_unit(
        self, currency: str, value: Decimal, rounding: Rounding
    ) -> None:
        """Every policy lands on a neighbouring multiple of the minor unit."""
        result = quantize(Money(value, currency), rounding)

        error = abs(Fraction(result.amount) - Fraction(value))
        assert error < unit(currency)
        if rounding in (Rounding.HALF_EVEN, Rounding.HALF_UP):
            assert error <= unit(currency) / 2

    @given(currency=currencies(), value=raw_decimals())
    def test_directed_policies_go_the_named_way(self, currency: str, value: Decimal) -> None:
        """FLOOR <= value <= CEILING, and DOWN never grows the magnitude."""
        amount = Money(value, currency)

        assert quantize(amount, Rounding.FLOOR).amount <= value
        assert quantize(amount, Rounding.CEILING).amount >= value
        assert abs(quantize(amount, Rounding.DOWN).amount) <= abs(value)
        assert abs(quantize(amount, Rounding.UP).amount) >= abs(value)

    @given(
        currency=currencies(),
        value=raw_decimals(),
        rounding=roundings(),
        prec=st.integers(1, 10),
        ambient=st.sampled_from(list(Rounding)),
    )
    def test_ambient_context_is_ignored(
        self, currency: str, value: Decimal, rounding: Rounding, prec: int, ambient: Rounding
    ) -> None:
        """A low-precision ambient context with any rounding changes nothing."""
        expected = quantize(Money(value, currency), rounding)
        with decimal.localcontext() as ctx:
            ctx.prec = prec
            ctx.rounding = ambient.value
            assert quantize(Money(value, currency), rounding) == expected


class TestConvertProperties:
    """Conversion rounds once, so per-part conversions drift only by rounding."""

    @given(
        source=currencies(),
        target=currencies(),
        units=minor_units(-(10**12), 10**12),
        rate=rates(),
    )
    def test_convert_is_within_half_a_unit_of_the_exact_product(
        self, source: str, target: str, units: int, rate: Decimal
    ) -> None:
        """The default half-even result is the nearest minor unit to amount * rate."""
        amount = from_minor(units, source)

        result = convert(amount, rate, target)

        exact = Fraction(amount.amount) * Fraction(rate)
        assert abs(Fraction(result.amount) - exact) <= unit(target) / 2
        assert result.amount.as_tuple().exponent == -exponent(target)

    @given(
        source=currencies(),
        target=currencies(),
        parts=st.lists(minor_units(-(10**12), 10**12), min_size=1, max_size=10),
        rate=rates(),
    )
    def test_converting_then_summing_stays_close_to_summing_then_converting(
        self, source: str, target: str, parts: list[int], rate: Decimal
    ) -> None:
        """n conversions differ from one conversion of the sum by at most (n + 1) / 2 units."""
        amounts = [from_minor(units, source) for units in parts]

        converted_sum = sum_money([convert(a, rate, target) for a in amounts], target)
        sum_converted = convert(sum_money(amounts, source), rate, target)

        drift = abs(to_minor(converted_sum) - to_minor(sum_converted))
        assert drift <= (len(parts) + 1) / 2

    @given(currency=currencies(), units=minor_units())
    def test_rate_one_in_the_same_currency_is_the_identity(self, currency: str, units: int) -> None:
        """Converting at 1 changes nothing."""
        amount = from_minor(units, currency)

        assert convert(amount, Decimal(1), currency) == amount

    @given(
        currency=currencies(),
        units=minor_units(0, 10**12),
        rate=rates(),
        rounding=roundings(),
    )
    def test_convert_is_deterministic_under_any_ambient_context(
        self, currency: str, units: int, rate: Decimal, rounding: Rounding
    ) -> None:
        """The ambient context does not touch the product or its rounding."""
        amount = from_minor(units, currency)
        expected = convert(amount, rate, "USD", rounding)
        with decimal.localcontext() as ctx:
            ctx.prec = 3
            ctx.rounding = decimal.ROUND_FLOOR
            assert convert(amount, rate, "USD", rounding) == expected


class TestMixedCurrencyProperties:
    """Amounts in different currencies never combine silently."""

    @given(
        pair=st.lists(currencies(), min_size=2, max_size=2, unique=True),
        left=minor_units(),
        right=minor_units(),
    )
    def test_mixed_currency_arithmetic_raises(self, pair: list[str], left: int, right: int) -> None:
        """Addition, sums and the same-currency guard all refuse."""
        a, b = from_minor(left, pair[0]), from_minor(right, pair[1])

        with pytest.raises(TypeError):
            _ = a + b
        with pytest.raises(TypeError):
            _ = a - b
        with pytest.raises(CurrencyMismatch):
            sum_money([a, b], pair[0])
        with pytest.raises(CurrencyMismatch):
            require_same_currency(a, b)


@given(raw_decimals(), currencies())
def test_request_amount_answers_as_the_checks_one_by_one(value: Decimal, currency: str) -> None:
    """Units, text and code as bounded_minor and amount_str give them, or the same error."""
    amount = Money(value, currency)
    try:
        expected: tuple[object, ...] = (
            bounded_minor(amount, "amount"),
            amount_str(amount),
            currency,
        )
    except ValidationError as exc:
        with pytest.raises(type(exc), match=f"^{re.escape(str(exc))}$"):
            request_amount(amount, "amount")
        return
    assert request_amount(amount, "amount") == expected
