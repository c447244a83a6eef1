"""Unit tests for `settlement_core.money`: precision, rounding, allocation, formatting."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from settlement_core.errors import (
    CurrencyMismatch,
    ExcessPrecision,
    InvalidAmount,
    UnknownCurrency,
    ValidationError,
)
from settlement_core.money import (
    MAX_AMOUNT_MINOR,
    Currency,
    Money,
    Rounding,
    allocate,
    amount_str,
    bounded_minor,
    convert,
    exponent,
    format_amount,
    from_minor,
    get_currency,
    money,
    quantize,
    request_amount,
    require_same_currency,
    round_decimal,
    sum_money,
    to_minor,
    zero,
)


def amounts(parts: list[Money]) -> list[str]:
    """Parts as canonical strings, so comparisons also check the scale."""
    return [format_amount(part) for part in parts]


class TestCurrencies:
    """Which currencies we settle in, and their ISO 4217 exponents."""

    @pytest.mark.parametrize(
        ("code", "places"),
        [
            ("JPY", 0),
            ("KRW", 0),
            ("CLP", 0),
            ("VND", 0),
            ("XOF", 0),
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("KWD", 3),
            ("BHD", 3),
            ("JOD", 3),
            ("OMR", 3),
            ("TND", 3),
            ("LYD", 3),
            ("IQD", 3),
            ("CLF", 4),
            ("UYW", 4),
        ],
    )
    def test_exponent_follows_iso_4217_minor_units(self, code: str, places: int) -> None:
        """Each currency's exponent is its ISO 4217 minor units."""
        assert exponent(code) == places

    def test_get_currency_returns_the_moneyed_currency(self) -> None:
        """A code resolves to the shared Currency instance."""
        currency = get_currency("USD")

        assert isinstance(currency, Currency)
        assert currency.code == "USD"
        assert currency is get_currency("USD")

    def test_get_currency_accepts_a_currency(self) -> None:
        """A Currency resolves to itself, and exponent accepts one too."""
        kwd = get_currency("KWD")

        assert get_currency(kwd) is kwd
        assert exponent(kwd) == 3

    @pytest.mark.parametrize(
        "code",
        ["ZZZ", "usd", "Usd", "", " USD", "USD ", "US", "USDX"],
    )
    def test_unknown_or_badly_written_codes_are_refused(self, code: str) -> None:
        """Codes are upper-case ISO 4217, matched exactly."""
        with pytest.raises(UnknownCurrency, match="currency"):
            get_currency(code)

    @pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XTS", "XXX", "XPT"])
    def test_currencies_without_minor_unit_are_refused(self, code: str) -> None:
        """Metals, SDRs and test codes cannot be settled."""
        with pytest.raises(UnknownCurrency, match="no minor unit"):
            exponent(code)

    @pytest.mark.parametrize("code", ["ITL", "ESP", "BYR"])
    def test_withdrawn_currencies_without_reliable_exponent_are_refused(self, code: str) -> None:
        """Withdrawn codes whose moneyed data disagrees with ISO are not guessed."""
        with pytest.raises(UnknownCurrency, match="no current ISO 4217 minor unit"):
            get_currency(code)

    @pytest.mark.parametrize("code", [None, 840, b"USD", 1.0])
    def test_non_string_codes_are_refused(self, code: object) -> None:
        """Only strings and Currency objects name currencies."""
        with pytest.raises(UnknownCurrency, match="must be an ISO 4217 code"):
            get_currency(code)  # type: ignore[arg-type]

    def test_a_foreign_currency_object_is_refused(self) -> None:
        """A hand-made Currency with an unknown code does not sneak in."""
        with pytest.raises(UnknownCurrency):
            get_currency(Currency("ZZZ", sub_unit=100))

    def test_unknown_currency_is_a_validation_error(self) -> None:
        """Callers can catch every refusal here as a ValidationError."""
        with pytest.raises(ValidationError):
            money("1", "ZZZ")


class TestMoneyConstruction:
    """`money()` builds exact amounts at the currency's exponent, or refuses."""

    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            ("12.30", "USD", "12.30"),
            ("12.3", "USD", "12.30"),
            ("12", "USD", "12.00"),
            ("-5", "USD", "-5.00"),
            ("+5.1", "USD", "5.10"),
            ("1.500", "USD", "1.50"),
            ("0012.30", "USD", "12.30"),
            (5, "JPY", "5"),
            ("5", "JPY", "5"),
            ("5.000", "JPY", "5"),
            ("-1500", "JPY", "-1500"),
            ("1.25", "KWD", "1.250"),
            ("-0.001", "KWD", "-0.001"),
            (Decimal("0.0001"), "CLF", "0.0001"),
            (Decimal("12.3"), "USD", "12.30"),
            (Decimal("1E+2"), "USD", "100.00"),
            (-7, "KWD", "-7.000"),
        ],
    )
    def test_amount_is_quantized_to_the_currency_exponent(
        self, amount: str | int | Decimal, currency: str, expected: str
    ) -> None:
        """The stored Decimal has exactly the currency's number of places."""
        result = money(amount, currency)

        assert str(result.amount) == expected
        assert result.amount.as_tuple().exponent == -exponent(currency)
        assert result.currency == get_currency(currency)

    @pytest.mark.parametrize("amount", ["-0", "-0.00", "+0", Decimal("-0"), Decimal("-0.000")])
    def test_negative_zero_becomes_zero(self, amount: str | Decimal) -> None:
        """A signed zero never reaches formats or hashes."""
        assert format_amount(money(amount, "USD")) == "0.00 USD"

    def test_currency_may_be_a_currency_object(self) -> None:
        """A Currency works wherever a code does."""
        assert money("1", get_currency("USD")) == money("1.00", "USD")

    def test_large_amounts_are_exact(self) -> None:
        """Big amounts keep every digit (no context rounding)."""
        big = "123456789012345678901234567890.12"

        assert amount_str(money(big, "USD")) == big

    @pytest.mark.parametrize(
        ("amount", "type_name"),
        [
            (1.5, "float"),
            (0.1, "float"),
            (True, "bool"),
            (False, "bool"),
            (None, "NoneType"),
            (b"1", "bytes"),
            ([1], "list"),
            (Money("1", "USD"), "Money"),
        ],
    )
    def test_inexact_or_foreign_types_are_refused(self, amount: object, type_name: str) -> None:
        """Floats, bools and anything else fail, naming the value and its type."""
        with pytest.raises(InvalidAmount, match=rf"\({type_name}\)"):
            money(amount, "USD")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "amount",
        [
            Decimal("NaN"),
            Decimal("-NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("-Infinity"),
        ],
    )
    def test_non_finite_decimals_are_refused(self, amount: Decimal) -> None:
        """NaN, sNaN and infinities are not amounts."""
        with pytest.raises(InvalidAmount, match="finite"):
            money(amount, "USD")

    @pytest.mark.parametrize(
        "amount",
        [
            "abc",
            "",
            " ",
            " 1",
            "1 ",
            "1\n",
            "1e3",
            "1E3",
            "1.5e-1",
            "NaN",
            "Infinity",
            "inf",
            ".5",
            "1.",
            "1,50",
            "1_000",
            "--1",
            "+-1",
            "0x10",
            "\u0661",  # ARABIC-INDIC DIGIT ONE, which Decimal() would accept
        ],
    )
    def test_malformed_strings_are_refused(self, amount: str) -> None:
        """Only plain decimals with an optional sign are accepted."""
        with pytest.raises(InvalidAmount, match="plain decimal"):
            money(amount, "USD")

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [
            ("1.005", "USD"),
            ("-0.001", "USD"),
            (Decimal("0.001"), "EUR"),
            ("1.5", "JPY"),
            (Decimal("0.1"), "JPY"),
            ("1.0001", "KWD"),
            ("0.00001", "CLF"),
        ],
    )
    def test_excess_precision_is_refused(self, amount: str | Decimal, currency: str) -> None:
        """More significant places than the currency has is an error, never a rounding."""
        with pytest.raises(ExcessPrecision, match=currency):
            money(amount, currency)

    @pytest.mark.parametrize("currency", ["ZZZ", "usd", "XAU"])
    def test_unknown_currency_is_refused(self, currency: str) -> None:
        """The currency is checked before the amount."""
        with pytest.raises(UnknownCurrency):
            money("1.00", currency)

    def test_absurdly_large_amounts_are_refused(self) -> None:
        """Amounts beyond 60 digits are refused instead of rounded."""
        with pytest.raises(InvalidAmount, match="digits"):
            money(10**70, "USD")


class TestMinorUnits:
    """Conversion to and from integer minor units is exact."""

    @pytest.mark.parametrize(
        ("amount", "currency", "units"),
        [
            ("12.30", "USD", 1230),
            ("-0.01", "USD", -1),
            ("0", "USD", 0),
            ("1500", "JPY", 1500),
            ("-3", "JPY", -3),
            ("1.234", "KWD", 1234),
            ("-0.005", "KWD", -5),
            ("1.0001", "CLF", 10001),
        ],
    )
    def test_round_trip(self, amount: str, currency: str, units: int) -> None:
        """to_minor and from_minor invert each other."""
        value = money(amount, currency)

        assert to_minor(value) == units
        assert from_minor(units, currency) == value
        assert format_amount(from_minor(units, currency)) == format_amount(value)

    def test_to_minor_refuses_instead_of_truncating(self) -> None:
        """moneyed's get_amount_in_sub_unit truncates 1.999 to 199; we refuse."""
        unquantized = Money(Decimal("1.999"), "USD")

        assert unquantized.get_amount_in_sub_unit() == 199
        with pytest.raises(ExcessPrecision):
            to_minor(unquantized)

    def test_to_minor_accepts_unquantized_but_representable_amounts(self) -> None:
        """Money('1.5') from moneyed arithmetic is still exactly 150 cents."""
        assert to_minor(Money(Decimal("1.5"), "USD")) == 150
        assert to_minor(Money(Decimal("3"), "KWD")) == 3000

    def test_to_minor_refuses_non_finite_and_unknown_money(self) -> None:
        """Money objects built around our checks are still caught."""
        with pytest.raises(InvalidAmount):
            to_minor(Money(Decimal("NaN"), "USD"))
        with pytest.raises(UnknownCurrency):
            to_minor(Money(Decimal("1"), "XAU"))
        with pytest.raises(InvalidAmount, match="expected Money"):
            to_minor(Decimal("1"))  # type: ignore[arg-type]

    @pytest.mark.parametrize("units", [True, 1.0, "100", Decimal("100"), None])
    def test_from_minor_takes_only_ints(self, units: object) -> None:
        """Minor units are an int, never a bool, float, string or Decimal."""
        with pytest.raises(InvalidAmount, match="must be an int"):
            from_minor(units, "USD")  # type: ignore[arg-type]

    def test_from_minor_refuses_absurdly_large_counts(self) -> None:
        """More than 60 digits of minor units is refused, not rounded."""
        with pytest.raises(InvalidAmount, match="digits"):
            from_minor(10**60, "USD")
        assert to_minor(from_minor(10**60 - 1, "USD")) == 10**60 - 1


def _checked_one_by_one(m: object) -> tuple[object, ...]:
    try:
        units = bounded_minor(m, "amount")
        return (units, amount_str(m), m.currency.code)  # type: ignore[arg-type, attr-defined]
    except ValidationError as exc:
        return (type(exc), str(exc))


def _checked_at_once(m: object) -> tuple[object, ...]:
    try:
        return request_amount(m, "amount")
    except ValidationError as exc:
        return (type(exc), str(exc))


class TestRequestAmount:
    """One pass over a request's amount answers as bounded_minor and amount_str do."""

    @pytest.mark.parametrize("currency", ["USD", "JPY", "KWD", "CLF"])
    @pytest.mark.parametrize(
        "value",
        [
            "0", "-0", "0.00", "-0.00", "12.3", "12.30", "12.300", "12.301", "-5", "-0.05",
            "1E+3", "1E-2", "1E+20", "1E-90", "1E+999999", "NaN", "Infinity", "-Infinity",
            "9999999999999.99", "10000000000000", "10000000000000.01", "-10000000000000.0001",
        ],
    )  # fmt: skip
    def test_same_answer_and_same_error_as_the_checks_one_by_one(
        self, value: str, currency: str
    ) -> None:
        """Units, text and code, or the very error (type and message) of the long way."""
        amount = Money(Decimal(value), currency)
        assert _checked_at_once(amount) == _checked_one_by_one(amount)

    @pytest.mark.parametrize("bad", [Decimal("1"), "1.00 USD", None, Money(Decimal(1), "XAU")])
    def test_not_money_or_unknown_currency_is_refused(self, bad: object) -> None:
        """What is not Money in a currency we settle in raises as bounded_minor does."""
        assert _checked_at_once(bad) == _checked_one_by_one(bad)
        assert isinstance(_checked_at_once(bad)[0], type)

    def test_largest_amount_passes_and_one_unit_more_is_refused(self) -> None:
        """The bound is MAX_AMOUNT_MINOR minor units either side of zero."""
        assert request_amount(from_minor(-MAX_AMOUNT_MINOR, "USD"), "x")[0] == -MAX_AMOUNT_MINOR
        with pytest.raises(InvalidAmount, match="exceeds"):
            request_amount(from_minor(MAX_AMOUNT_MINOR + 1, "USD"), "x")


class TestQuantize:
    """Each named rounding policy, on halves either side of zero."""

    @pytest.mark.parametrize(
        ("amount", "currency", "rounding", "expected"),
        [
            # USD, 2 places: 0.125 lies between 0.12 and 0.13, 0.135 between 0.13 and 0.14.
            ("0.125", "USD", Rounding.HALF_EVEN, "0.12"),
            ("0.135", "USD", Rounding.HALF_EVEN, "0.14"),
            ("-0.125", "USD", Rounding.HALF_EVEN, "-0.12"),
            ("-0.135", "USD", Rounding.HALF_EVEN, "-0.14"),
            ("0.125", "USD", Rounding.HALF_UP, "0.13"),
            ("-0.125", "USD", Rounding.HALF_UP, "-0.13"),
            ("0.125", "USD", Rounding.DOWN, "0.12"),
            ("-0.125", "USD", Rounding.DOWN, "-0.12"),
            ("0.125", "USD", Rounding.UP, "0.13"),
            ("-0.125", "USD", Rounding.UP, "-0.13"),
            ("0.125", "USD", Rounding.FLOOR, "0.12"),
            ("-0.125", "USD", Rounding.FLOOR, "-0.13"),
            ("0.125", "USD", Rounding.CEILING, "0.13"),
            ("-0.125", "USD", Rounding.CEILING, "-0.12"),
            # JPY, 0 places.
            ("2.5", "JPY", Rounding.HALF_EVEN, "2"),
            ("3.5", "JPY", Rounding.HALF_EVEN, "4"),
            ("-2.5", "JPY", Rounding.HALF_EVEN, "-2"),
            ("-3.5", "JPY", Rounding.HALF_EVEN, "-4"),
            ("2.5", "JPY", Rounding.HALF_UP, "3"),
            ("-2.5", "JPY", Rounding.HALF_UP, "-3"),
            ("2.5", "JPY", Rounding.DOWN, "2"),
            ("-2.5", "JPY", Rounding.DOWN, "-2"),
            ("2.5", "JPY", Rounding.UP, "3"),
            ("-2.5", "JPY", Rounding.UP, "-3"),
            ("2.5", "JPY", Rounding.FLOOR, "2"),
            ("-2.5", "JPY", Rounding.FLOOR, "-3"),
            ("2.5", "JPY", Rounding.CEILING, "3"),
            ("-2.5", "JPY", Rounding.CEILING, "-2"),
            # KWD, 3 places.
            ("1.0005", "KWD", Rounding.HALF_EVEN, "1.000"),
            ("1.0015", "KWD", Rounding.HALF_EVEN, "1.002"),
            ("-1.0005", "KWD", Rounding.HALF_EVEN, "-1.000"),
            ("-1.0015", "KWD", Rounding.HALF_EVEN, "-1.002"),
            ("1.0005", "KWD", Rounding.HALF_UP, "1.001"),
            ("-1.0005", "KWD", Rounding.HALF_UP, "-1.001"),
            ("1.0005", "KWD", Rounding.DOWN, "1.000"),
            ("-1.0005", "KWD", Rounding.DOWN, "-1.000"),
            ("1.0005", "KWD", Rounding.UP, "1.001"),
            ("-1.0005", "KWD", Rounding.UP, "-1.001"),
            ("1.0005", "KWD", Rounding.FLOOR, "1.000"),
            ("-1.0005", "KWD", Rounding.FLOOR, "-1.001"),
            ("1.0005", "KWD", Rounding.CEILING, "1.001"),
            ("-1.0005", "KWD", Rounding.CEILING, "-1.000"),
        ],
    )
    def test_halves_follow_the_named_policy(
        self, amount: str, currency: str, rounding: Rounding, expected: str
    ) -> None:
        """The named policy alone decides which way a half goes."""
        result = quantize(Money(Decimal(amount), currency), rounding)

        assert amount_str(result) == expected
        assert str(result.amount) == expected

    @pytest.mark.parametrize("rounding", list(Rounding))
    def test_representable_amounts_are_only_padded(self, rounding: Rounding) -> None:
        """Quantizing 1.5 USD gives 1.50 with every policy."""
        assert str(quantize(Money(Decimal("1.5"), "USD"), rounding).amount) == "1.50"

    def test_rounding_to_zero_gives_unsigned_zero(self) -> None:
        """-0.004 USD rounds to 0.00, not -0.00."""
        result = quantize(Money(Decimal("-0.004"), "USD"), Rounding.HALF_EVEN)

        assert format_amount(result) == "0.00 USD"

    def test_moneyed_round_would_use_zero_digits(self) -> None:
        """The reason this function exists: moneyed's round() drops the cents."""
        value = Money(Decimal("2.345"), "USD")

        assert value.round().amount == Decimal("2")
        assert quantize(value, Rounding.HALF_EVEN).amount == Decimal("2.34")

    def test_rounding_values_are_the_decimal_constants(self) -> None:
        """Each policy's value is the decimal module constant of the same name."""
        assert {policy.name: policy.value for policy in Rounding} == {
            "HALF_EVEN": decimal.ROUND_HALF_EVEN,
            "HALF_UP": decimal.ROUND_HALF_UP,
            "DOWN": decimal.ROUND_DOWN,
            "UP": decimal.ROUND_UP,
            "FLOOR": decimal.ROUND_FLOOR,
            "CEILING": decimal.ROUND_CEILING,
        }

    def test_a_raw_decimal_constant_is_not_a_policy(self) -> None:
        """Policies are named: the bare decimal string is refused."""
        with pytest.raises(InvalidAmount, match="Rounding"):
            quantize(money("1", "USD"), decimal.ROUND_HALF_UP)  # type: ignore[arg-type]


class TestRoundDecimal:
    """`round_decimal()` turns a computed Decimal into Money."""

    def test_a_computed_fee_is_rounded_as_named(self) -> None:
        """2.9% of 10.05 USD is 0.29145: 0.29 half-even, 0.30 up."""
        fee = Decimal("10.05") * Decimal("0.029")

        assert round_decimal(fee, "USD", Rounding.HALF_EVEN) == money("0.29", "USD")
        assert round_decimal(fee, "USD", Rounding.UP) == money("0.30", "USD")
        assert format_amount(round_decimal(fee, "KWD", Rounding.DOWN)) == "0.291 KWD"
        assert format_amount(round_decimal(fee, "JPY", Rounding.CEILING)) == "1 JPY"

    @pytest.mark.parametrize("value", [0.29, 1, "0.29", Decimal("NaN"), Decimal("-Infinity")])
    def test_only_finite_decimals_are_accepted(self, value: object) -> None:
        """Floats, ints, strings and non-finite Decimals are refused."""
        with pytest.raises(InvalidAmount, match="finite Decimal"):
            round_decimal(value, "USD", Rounding.HALF_EVEN)  # type: ignore[arg-type]


class TestConvert:
    """`convert()` multiplies exactly, then rounds once to the target."""

    def test_default_is_half_even(self) -> None:
        """10.05 USD at 1.10 is 11.055 EUR, which half-even makes 11.06."""
        result = convert(money("10.05", "USD"), Decimal("1.10"), "EUR")

        assert format_amount(result) == "11.06 EUR"

    def test_half_even_goes_to_even_digit(self) -> None:
        """10.25 at 0.5 is 5.125, which half-even makes 5.12."""
        result = convert(money("10.25", "USD"), Decimal("0.5"), "EUR")

        assert format_amount(result) == "5.12 EUR"

    def test_explicit_rounding(self) -> None:
        """The caller's policy replaces the default."""
        amount = money("10.25", "USD")

        assert format_amount(convert(amount, Decimal("0.5"), "EUR", Rounding.UP)) == "5.13 EUR"
        assert format_amount(convert(-amount, Decimal("0.5"), "EUR", Rounding.FLOOR)) == "-5.13 EUR"

    @pytest.mark.parametrize(
        ("amount", "rate", "target", "expected"),
        [
            (("1000", "JPY"), "0.0067", "USD", "6.70 USD"),
            (("12.34", "USD"), "151.5", "JPY", "1870 JPY"),
            (("100.00", "USD"), "0.30745", "KWD", "30.745 KWD"),
            (("1.000", "KWD"), "3.2525", "USD", "3.25 USD"),
            (("-12.34", "USD"), "151.5", "JPY", "-1870 JPY"),
        ],
    )
    def test_between_exponents(
        self, amount: tuple[str, str], rate: str, target: str, expected: str
    ) -> None:
        """Results land on the target's exponent, whatever the source's."""
        assert format_amount(convert(money(*amount), Decimal(rate), target)) == expected

    def test_long_rates_are_multiplied_exactly(self) -> None:
        """A rate longer than 60 digits is not pre-rounded before the one rounding."""
        just_above_half = Decimal("0.445" + "0" * 60 + "1")

        # Rounded to 60 digits first, the product would be exactly 0.445 -> 0.44.
        assert convert(money("1.00", "USD"), just_above_half, "USD") == money("0.45", "USD")
        assert convert(money("1.00", "USD"), Decimal("0.445"), "USD") == money("0.44", "USD")

    @pytest.mark.parametrize(
        "rate",
        [
            Decimal("0"),
            Decimal("-1.1"),
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            1.1,
            1,
            "1.1",
            None,
        ],
    )
    def test_rate_must_be_a_finite_positive_decimal(self, rate: object) -> None:
        """Zero, negative, non-finite and non-Decimal rates are refused."""
        with pytest.raises(InvalidAmount, match="rate"):
            convert(money("1", "USD"), rate, "EUR")  # type: ignore[arg-type]

    def test_unknown_target_currency_is_refused(self) -> None:
        """The target must be a currency we settle in."""
        with pytest.raises(UnknownCurrency):
            convert(money("1", "USD"), Decimal("1"), "XAU")


class TestAllocate:
    """`allocate()` splits by largest remainder and never loses a minor unit."""

    def test_three_ways_gives_the_extra_cent_to_the_first_part(self) -> None:
        """1.00 USD by [1, 1, 1] is 0.34, 0.33, 0.33."""
        assert amounts(allocate(money("1.00", "USD"), [1, 1, 1])) == [
            "0.34 USD",
            "0.33 USD",
            "0.33 USD",
        ]

    def test_hundred_dollars_three_ways(self) -> None:
        """100 USD by [1, 1, 1] is 33.34, 33.33, 33.33."""
        assert amounts(allocate(money("100", "USD"), [1, 1, 1])) == [
            "33.34 USD",
            "33.33 USD",
            "33.33 USD",
        ]

    def test_largest_remainder_wins_over_index(self) -> None:
        """0.05 by [1, 3]: exact shares 1.25 and 3.75 cents, so the second gets the unit."""
        assert amounts(allocate(money("0.05", "USD"), [1, 3])) == ["0.01 USD", "0.04 USD"]

    def test_ties_go_to_earlier_indexes(self) -> None:
        """Two leftover units among four equal remainders go to the first two."""
        assert amounts(allocate(money("0.06", "USD"), [1, 1, 1, 1])) == [
            "0.02 USD",
            "0.02 USD",
            "0.01 USD",
            "0.01 USD",
        ]

    def test_negative_amounts_split_like_positive_ones(self) -> None:
        """-1.00 by [1, 1, 1] mirrors 1.00: every part carries the minus sign."""
        assert amounts(allocate(money("-1.00", "USD"), [1, 1, 1])) == [
            "-0.34 USD",
            "-0.33 USD",
            "-0.33 USD",
        ]

    def test_zero_ratios_get_zero(self) -> None:
        """A zero ratio receives nothing, not even a leftover unit."""
        parts = allocate(money("1.00", "USD"), [0, 1, 0, 1, 1, 0])

        assert amounts(parts) == [
            "0.00 USD",
            "0.34 USD",
            "0.00 USD",
            "0.33 USD",
            "0.33 USD",
            "0.00 USD",
        ]

    def test_negative_amount_with_zero_ratio_has_unsigned_zero(self) -> None:
        """The zero part of a negative split is 0.00, not -0.00."""
        assert amounts(allocate(money("-0.10", "USD"), [1, 0])) == ["-0.10 USD", "0.00 USD"]

    def test_yen_has_no_fractions(self) -> None:
        """100 JPY by [1, 1, 1] is 34, 33, 33."""
        assert amounts(allocate(money("100", "JPY"), [1, 1, 1])) == ["34 JPY", "33 JPY", "33 JPY"]

    def test_three_decimal_currency(self) -> None:
        """1.000 KWD by [1, 2] is 0.333 and 0.667 (the larger remainder wins)."""
        assert amounts(allocate(money("1", "KWD"), [1, 2])) == ["0.333 KWD", "0.667 KWD"]

    def test_decimal_ratios(self) -> None:
        """Percentages as Decimals work and mix with ints."""
        parts = allocate(money("10.00", "USD"), [Decimal("12.5"), Decimal("87.5"), 0])

        assert amounts(parts) == ["1.25 USD", "8.75 USD", "0.00 USD"]

    def test_zero_amount(self) -> None:
        """Nothing to split gives zero parts."""
        assert amounts(allocate(zero("USD"), [1, 2])) == ["0.00 USD", "0.00 USD"]

    def test_single_ratio_gets_everything(self) -> None:
        """One part is the whole amount."""
        assert allocate(money("12.34", "USD"), [7]) == [money("12.34", "USD")]

    def test_parts_sum_to_the_amount(self) -> None:
        """An awkward split still adds up exactly."""
        total = money("1000.01", "USD")

        parts = allocate(total, [3, 7, 11, 13, 17])

        assert sum_money(parts, "USD") == total

    def test_amount_with_excess_precision_is_refused(self) -> None:
        """Quantize first: allocation does not silently round its input."""
        with pytest.raises(ExcessPrecision):
            allocate(Money(Decimal("1.005"), "USD"), [1, 1])

    @pytest.mark.parametrize(
        ("ratios", "message"),
        [
            ([], "empty"),
            ((), "empty"),
            ([1, -1], "negative"),
            ([Decimal("-0.5"), 2], "negative"),
            ([0, 0, 0], "all be zero"),
            ([0], "all be zero"),
            ([1.5, 1], r"\(float\)"),
            ([True, 1], r"\(bool\)"),
            (["1", 1], r"\(str\)"),
            ([Decimal("NaN"), 1], "finite"),
            ([Decimal("Infinity"), 1], "finite"),
            ("11", "sequence"),
            ({1, 2}, "sequence"),
        ],
    )
    def test_bad_ratios_are_refused(self, ratios: object, message: str) -> None:
        """Ratios must be non-negative ints or Decimals, at least one, not all zero."""
        with pytest.raises(InvalidAmount, match=message):
            allocate(money("1.00", "USD"), ratios)  # type: ignore[arg-type]


class TestZeroAndSums:
    """Zeros, sums and the same-currency guard."""

    @pytest.mark.parametrize(
        ("currency", "expected"),
        [("USD", "0.00 USD"), ("JPY", "0 JPY"), ("KWD", "0.000 KWD")],
    )
    def test_zero_has_the_currency_exponent(self, currency: str, expected: str) -> None:
        """zero() is quantized like any other amount."""
        assert format_amount(zero(currency)) == expected
        assert not zero(currency)

    def test_sum_is_exact(self) -> None:
        """0.10 + 0.20 is exactly 0.30."""
        total = sum_money([money("0.10", "USD"), money("0.20", "USD")], "USD")

        assert format_amount(total) == "0.30 USD"

    def test_sum_accepts_any_iterable(self) -> None:
        """A generator works, and negatives cancel out."""
        total = sum_money((money(x, "KWD") for x in ("1.001", "-2.002", "1.001")), "KWD")

        assert format_amount(total) == "0.000 KWD"

    def test_empty_sum_is_zero_in_the_currency(self) -> None:
        """Summing nothing gives a typed zero."""
        assert format_amount(sum_money([], "JPY")) == "0 JPY"

    def test_sum_refuses_other_currencies(self) -> None:
        """A foreign amount raises CurrencyMismatch naming both codes."""
        with pytest.raises(CurrencyMismatch, match=r"USD.*EUR"):
            sum_money([money("1", "USD"), money("1", "EUR")], "USD")

    def test_sum_refuses_amounts_in_another_currency_than_asked(self) -> None:
        """All amounts agreeing among themselves is not enough."""
        with pytest.raises(CurrencyMismatch, match=r"JPY.*USD"):
            sum_money([money("1", "USD")], "JPY")

    def test_require_same_currency_returns_the_shared_currency(self) -> None:
        """The shared currency comes back for further use."""
        shared = require_same_currency(money("1", "USD"), money("2", "USD"), money("3", "USD"))

        assert shared == get_currency("USD")

    def test_require_same_currency_with_one_amount(self) -> None:
        """One amount trivially shares its currency."""
        assert require_same_currency(money("1", "JPY")).code == "JPY"

    def test_require_same_currency_names_both_codes(self) -> None:
        """The error names the first currency and the one that differs."""
        with pytest.raises(CurrencyMismatch, match="USD and EUR"):
            require_same_currency(money("1", "USD"), money("1", "USD"), money("1", "EUR"))

    def test_require_same_currency_needs_an_amount(self) -> None:
        """Calling it with nothing is a programming error, reported as such."""
        with pytest.raises(InvalidAmount, match="at least one"):
            require_same_currency()

    def test_currency_mismatch_is_a_validation_error(self) -> None:
        """Callers can catch it alongside other refusals."""
        with pytest.raises(ValidationError):
            require_same_currency(money("1", "USD"), money("1", "JPY"))

    def test_moneyed_addition_across_currencies_still_raises(self) -> None:
        """The re-exported Money keeps moneyed's guard on mixed arithmetic."""
        with pytest.raises(TypeError):
            _ = money("1", "USD") + money("1", "EUR")


class TestFormatting:
    """Canonical, locale-free text for logs and idempotency hashes."""

    @pytest.mark.parametrize(
        ("amount", "currency", "formatted"),
        [
            ("12.3", "USD", "12.30 USD"),
            ("-12.3", "USD", "-12.30 USD"),
            ("1500", "JPY", "1500 JPY"),
            ("1.5", "KWD", "1.500 KWD"),
            ("1234567.89", "EUR", "1234567.89 EUR"),
        ],
    )
    def test_format_amount(self, amount: str, currency: str, formatted: str) -> None:
        """Amount at the exponent, one space, the code; no grouping or symbols."""
        assert format_amount(money(amount, currency)) == formatted

    def test_amount_str_is_the_bare_amount(self) -> None:
        """No currency, no exponent notation, trailing zeros kept."""
        assert amount_str(money("12.3", "USD")) == "12.30"
        assert amount_str(money(Decimal("1E+6"), "JPY")) == "1000000"

    def test_scale_of_the_input_does_not_matter(self) -> None:
        """Money('1.1') and Money('1.100') format the same, unlike repr()."""
        short, long = Money(Decimal("1.1"), "USD"), Money(Decimal("1.100"), "USD")

        assert repr(short) != repr(long)
        assert format_amount(short) == format_amount(long) == "1.10 USD"

    def test_negative_zero_from_elsewhere_is_unsigned(self) -> None:
        """A -0.00 built outside this module (e.g. by a mapper) formats as 0.00."""
        negated = Money(Decimal("-0.00"), "USD")

        assert str(negated.amount) == "-0.00"
        assert format_amount(negated) == "0.00 USD"
        assert amount_str(negated) == "0.00"

    def test_large_amounts_use_plain_notation(self) -> None:
        """Big or scaled Decimals never come out as 1E+30."""
        assert amount_str(Money(Decimal("1E+30"), "USD")) == "1" + "0" * 30 + ".00"

    def test_excess_precision_is_refused(self) -> None:
        """Formatting never rounds silently, since the text feeds hashes."""
        with pytest.raises(ExcessPrecision):
            format_amount(Money(Decimal("10") / 3, "USD"))

    def test_format_is_not_str_of_money(self) -> None:
        """str(Money) is locale-dependent; ours is fixed."""
        value = money("1234.50", "USD")

        assert format_amount(value) == "1234.50 USD"
        assert str(value) != format_amount(value)


class TestAmbientContext:
    """Results do not depend on the caller's decimal context."""

    def test_results_ignore_a_low_precision_flooring_context(self) -> None:
        """prec=3 and ROUND_FLOOR around every call change nothing."""

        def run() -> list[str]:
            big = money("123456.785", "KWD")
            return [
                format_amount(money("98765.43", "USD")),
                format_amount(from_minor(123456789, "USD")),
                str(to_minor(big)),
                format_amount(quantize(Money(Decimal("-2.345"), "USD"), Rounding.HALF_EVEN)),
                format_amount(quantize(Money(Decimal("12345.675"), "USD"), Rounding.HALF_UP)),
                format_amount(round_decimal(Decimal("-987.65"), "JPY", Rounding.HALF_EVEN)),
                format_amount(convert(money("12345.67", "USD"), Decimal("1.23456"), "EUR")),
                *amounts(allocate(money("10000.00", "USD"), [1, 1, 1])),
                format_amount(sum_money([big, big, big], "KWD")),
                format_amount(zero("KWD")),
            ]

        expected = run()
        with decimal.localcontext() as ctx:
            ctx.prec = 3
            ctx.rounding = decimal.ROUND_FLOOR
            assert run() == expected
            assert ctx.prec == 3
            assert ctx.rounding == decimal.ROUND_FLOOR

    def test_results_ignore_a_trapping_context(self) -> None:
        """A context that traps Inexact does not break rounding helpers."""
        with decimal.localcontext() as ctx:
            ctx.traps[decimal.Inexact] = True
            ctx.traps[decimal.Rounded] = True
            assert quantize(Money(Decimal("0.125"), "USD"), Rounding.UP) == money("0.13", "USD")

    def test_expected_values_are_not_context_artifacts(self) -> None:
        """Spot-check the values run() is compared against."""
        assert format_amount(convert(money("12345.67", "USD"), Decimal("1.23456"), "EUR")) == (
            "15241.47 EUR"
        )
        assert to_minor(money("123456.785", "KWD")) == 123456785
