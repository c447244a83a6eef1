"""Money: the one place that decides precision, rounding and allocation.

py-moneyed gives us a `Money` value and the ISO 4217 table, but no money policy:
amounts are never quantized to the currency's minor unit, `Money.round()`
defaults to 0 digits and follows the ambient `decimal` context, there is no
allocation (a naive split loses cents), and `get_amount_in_sub_unit()`
truncates. This module is the only one allowed to import `moneyed`; everything
else uses its re-exports and helpers, so every rounding decision in the library
is explicit, named and independent of the caller's `decimal` context.

Amounts produced here always carry exactly the currency's ISO exponent
(`12.30 USD`, `5 JPY`, `1.250 KWD`) and never a negative zero.
"""

from __future__ import annotations

import decimal
import enum
import functools
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

import moneyed
from moneyed import Currency, Money

from settlement_core.errors import CurrencyMismatch, ExcessPrecision, InvalidAmount, UnknownCurrency

__all__ = [
    "Money",
    "Currency",
    "Rounding",
    "get_currency",
    "exponent",
    "money",
    "to_minor",
    "from_minor",
    "quantize",
    "round_decimal",
    "convert",
    "allocate",
    "zero",
    "require_same_currency",
    "sum_money",
    "format_amount",
    "amount_str",
    "request_amount",
]


class Rounding(enum.Enum):
    """Named rounding policies; each value is the matching `decimal` constant."""

    HALF_EVEN = decimal.ROUND_HALF_EVEN
    HALF_UP = decimal.ROUND_HALF_UP
    DOWN = decimal.ROUND_DOWN
    UP = decimal.ROUND_UP
    FLOOR = decimal.ROUND_FLOOR
    CEILING = decimal.ROUND_CEILING


# ISO 4217 minor units that differ from 2. moneyed only has `sub_unit`, and its
# data for withdrawn currencies is placeholder, so the exponent comes from here.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
            "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip
_DEFAULT_EXPONENT = 2

# ISO 4217 lists these with "N.A." minor units (metals, SDR, funds, test codes);
# the X-codes moneyed keeps from withdrawn lists are refused with them.
_NO_MINOR_UNIT = frozenset(
    {
        "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XEU", "XFO",
        "XFU", "XPD", "XPT", "XRE", "XSU", "XTS", "XUA", "XXX",
    }
)  # fmt: skip

# Plain decimal only: no exponent form, no whitespace, no bare "." or ".5",
# ASCII digits only (Decimal() would also accept Unicode digits and "1_000").
_AMOUNT_PATTERN = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")

# Digits an amount may have at its currency exponent. Far beyond any ledger
# column, and it keeps every operation below exact or explicitly rounded.
_PRECISION = 60

# The most minor units one request may carry (10 trillion USD). Storage keeps
# minor units in signed 64-bit integers and totals add amounts up: at this bound
# over 9,000 of the largest amounts still fit in one total.
MAX_AMOUNT_MINOR = 10**15


@functools.cache
def _context(rounding: Rounding = Rounding.HALF_EVEN, *, exact: bool = False) -> decimal.Context:
    """A private decimal context, so the caller's ambient one never matters.

    Cached: `localcontext()` works on a copy, so sharing one instance is safe.
    """
    traps: list[type[decimal.DecimalException]] = [
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
    ]
    if exact:
        traps.append(decimal.Inexact)
    return decimal.Context(
        prec=_PRECISION,
        rounding=rounding.value,
        Emin=decimal.MIN_EMIN,
        Emax=decimal.MAX_EMAX,
        capitals=1,
        clamp=0,
        flags=[],
        traps=traps,
    )


def _describe(value: object) -> str:
    """`'1.5' (str)`: the value and its type, for error messages."""
    return f"{value!r} ({type(value).__name__})"


def get_currency(code: str | Currency) -> Currency:
    """The moneyed `Currency` for an upper-case ISO 4217 code we can settle in."""
    if isinstance(code, Currency):
        raw: object = code.code
    elif isinstance(code, str):
        raw = code
    else:
        raise UnknownCurrency(f"currency must be an ISO 4217 code, got {_describe(code)}")
    if not isinstance(raw, str) or not raw:
        raise UnknownCurrency(f"currency must be an ISO 4217 code, got {_describe(code)}")
    return _known_currency(raw)


# 10 ** exponent of each code `_known_currency` accepted: the fast path of request_amount.
_SCALES: dict[str, int] = {}


@functools.cache
def _known_currency(raw: str) -> Currency:
    """The checked Currency for a code (cached: this runs for every amount)."""
    try:
        currency = moneyed.get_currency(raw)
    except moneyed.CurrencyDoesNotExist:
        raise UnknownCurrency(f"unknown currency code {raw!r}") from None
    if raw in _NO_MINOR_UNIT:
        raise UnknownCurrency(f"currency {raw!r} has no minor unit; it cannot be settled")
    # Withdrawn currencies carry a placeholder sub_unit in moneyed; where it
    # disagrees with the ISO exponent we refuse rather than guess.
    if currency.sub_unit != 10 ** _EXPONENTS.get(raw, _DEFAULT_EXPONENT):
        raise UnknownCurrency(f"currency {raw!r} has no current ISO 4217 minor unit")
    _SCALES[raw] = currency.sub_unit
    return currency


def exponent(currency: str | Currency) -> int:
    """The currency's ISO 4217 minor units: JPY 0, USD 2, KWD 3, CLF 4."""
    return _EXPONENTS.get(get_currency(currency).code, _DEFAULT_EXPONENT)


def _quantum(places: int) -> Decimal:
    """`Decimal('0.01')` for 2 places, `Decimal('1')` for 0."""
    return Decimal((0, (1,), -places))


def _build(value: Decimal, currency: Currency, rounding: Rounding | None) -> Money:
    """Money at exactly the currency exponent; `rounding=None` means refuse to round."""
    places = exponent(currency)
    with decimal.localcontext(_context(Rounding.HALF_EVEN if rounding is None else rounding)):
        try:
            quantized = value.quantize(_quantum(places))
        except decimal.InvalidOperation:
            raise InvalidAmount(
                f"amount {value} {currency.code} has more than {_PRECISION} digits"
            ) from None
    if rounding is None and quantized != value:
        raise ExcessPrecision(
            f"amount {value} has more than {places} decimal places allowed for {currency.code}"
        )
    if not quantized:
        quantized = quantized.copy_abs()  # "-0.00" would leak into formats and hashes
    return Money(quantized, currency)


def _check_rounding(rounding: object) -> Rounding:
    """The rounding, if it is one of the named policies."""
    if not isinstance(rounding, Rounding):
        raise InvalidAmount(f"rounding must be a Rounding policy, got {_describe(rounding)}")
    return rounding


def _check_money(amount: object) -> Money:
    """The amount, if it is a finite Money in a currency we know."""
    if not isinstance(amount, Money):
        raise InvalidAmount(f"expected Money, got {_describe(amount)}")
    get_currency(amount.currency)
    if not amount.amount.is_finite():
        raise InvalidAmount(f"amount {amount.amount} {amount.currency.code} is not finite")
    return amount


def money(amount: str | int | Decimal, currency: str | Currency) -> Money:
    """Money from an exact amount, refusing floats, garbage and excess precision."""
    cur = get_currency(currency)
    value: Decimal
    if isinstance(amount, bool):
        raise InvalidAmount(f"amount must be str, int or Decimal, got {_describe(amount)}")
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise InvalidAmount(f"amount must be finite, got {_describe(amount)}")
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        if not _AMOUNT_PATTERN.fullmatch(amount):
            raise InvalidAmount(
                f"amount must be a plain decimal such as '12.30', got {_describe(amount)}"
            )
        value = Decimal(amount)
    else:
        raise InvalidAmount(f"amount must be str, int or Decimal, got {_describe(amount)}")
    return _build(value, cur, None)


def to_minor(m: Money) -> int:
    """The amount in minor units (cents); refuses amounts that would need rounding."""
    checked = _check_money(m)
    cur = get_currency(checked.currency)
    places = exponent(cur)
    shape = checked.amount.as_tuple()
    if shape.exponent == -places and len(shape.digits) <= _PRECISION:
        # Already at the currency's scale (what this module builds): shifting is exact.
        return int(checked.amount.scaleb(places, _context(exact=True)))
    exact = _build(checked.amount, cur, None).amount
    with decimal.localcontext(_context(exact=True)):
        return int(exact.scaleb(exponent(cur)))


def bounded_minor(m: object, what: str) -> int:
    """A request's amount in minor units, or InvalidAmount beyond MAX_AMOUNT_MINOR."""
    checked = _check_money(m)
    units = to_minor(checked)
    if abs(units) > MAX_AMOUNT_MINOR:
        largest = from_minor(MAX_AMOUNT_MINOR, checked.currency.code)
        raise InvalidAmount(
            f"{what} {format_amount(checked)} exceeds the largest amount a request may carry"
            f" ({format_amount(largest)})"
        )
    return units


def request_amount(m: object, what: str) -> tuple[int, str, str]:
    """A request's amount as (minor units, `amount_str` text, code), checked as bounded_minor does.

    One pass for what validating and fingerprinting a request both need; an
    amount the quick path cannot vouch for takes the checks one by one.
    """
    if type(m) is Money:
        amount, currency = m.amount, m.currency
        if type(currency) is Currency and type(amount) is Decimal and amount.is_finite():
            code = currency.code
            scale = _SCALES.get(code)
            # The bounds keep as_integer_ratio small; anything beyond takes the long way.
            if scale is not None and -_PRECISION < amount.adjusted() < _PRECISION:
                numerator, denominator = amount.as_integer_ratio()
                units, rest = divmod(numerator * scale, denominator)
                if not rest and -MAX_AMOUNT_MINOR <= units <= MAX_AMOUNT_MINOR:
                    return units, _plain(units, scale), code
    units = bounded_minor(m, what)
    checked: Money = m  # type: ignore[assignment]  # bounded_minor refuses anything else
    return units, amount_str(checked), checked.currency.code


def _plain(units: int, scale: int) -> str:
    """Minor units as `amount_str` writes them at the currency's exponent: "-12.30"."""
    if scale == 1:
        return str(units)
    whole, part = divmod(-units if units < 0 else units, scale)
    # part + scale has exactly one digit more than the exponent: drop it, keep the zeros.
    return f"{'-' if units < 0 else ''}{whole}.{str(part + scale)[1:]}"


def positive_minor(m: object, what: str) -> tuple[int, str]:
    """A strictly positive Money as (minor units, currency code), or InvalidAmount."""
    checked = _check_money(m)
    units = bounded_minor(checked, what)
    if units <= 0:
        raise InvalidAmount(f"{what} must be positive, got {format_amount(checked)}")
    return units, checked.currency.code


def from_minor(units: int, currency: str | Currency) -> Money:
    """Money from an integer count of minor units: `from_minor(1230, "USD")` is 12.30."""
    cur = get_currency(currency)
    if isinstance(units, bool) or not isinstance(units, int):
        raise InvalidAmount(f"minor units must be an int, got {_describe(units)}")
    if abs(units) >= 10**_PRECISION:
        raise InvalidAmount(f"{units} minor units of {cur.code} has more than {_PRECISION} digits")
    # An integer shifted by the exponent is exact and already at the currency's scale.
    return Money(Decimal(int(units)).scaleb(-exponent(cur), _context(exact=True)), cur)


def quantize(amount: Money, rounding: Rounding) -> Money:
    """The amount rounded to its currency's exponent with the named policy."""
    checked = _check_money(amount)
    return _build(checked.amount, get_currency(checked.currency), _check_rounding(rounding))


def round_decimal(value: Decimal, currency: str | Currency, rounding: Rounding) -> Money:
    """Money from any finite Decimal (a computed fee, say), rounded as named."""
    cur = get_currency(currency)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidAmount(f"value must be a finite Decimal, got {_describe(value)}")
    return _build(value, cur, _check_rounding(rounding))


def convert(
    amount: Money,
    rate: Decimal,
    to_currency: str | Currency,
    rounding: Rounding = Rounding.HALF_EVEN,
) -> Money:
    """`amount * rate` in `to_currency`, rounded once to the target exponent."""
    checked = _check_money(amount)
    target = get_currency(to_currency)
    policy = _check_rounding(rounding)
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise InvalidAmount(f"rate must be a finite positive Decimal, got {_describe(rate)}")
    # Exact product first (enough digits for both factors), so the only
    # rounding is the one the caller named.
    digits = len(checked.amount.as_tuple().digits) + len(rate.as_tuple().digits)
    ctx = _context(exact=True)
    ctx.prec = max(_PRECISION, digits)
    with decimal.localcontext(ctx):
        product = checked.amount * rate
    return _build(product, target, policy)


def _check_ratios(ratios: Sequence[int | Decimal]) -> list[Fraction]:
    """Ratios as exact fractions, if they are non-negative and not all zero."""
    if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence):
        raise InvalidAmount(f"ratios must be a sequence of numbers, got {_describe(ratios)}")
    if not ratios:
        raise InvalidAmount("ratios must not be empty")
    exact: list[Fraction] = []
    for ratio in ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, int | Decimal):
            raise InvalidAmount(f"ratio must be an int or Decimal, got {_describe(ratio)}")
        if isinstance(ratio, Decimal) and not ratio.is_finite():
            raise InvalidAmount(f"ratio must be finite, got {_describe(ratio)}")
        if ratio < 0:
            raise InvalidAmount(f"ratio must not be negative, got {_describe(ratio)}")
        exact.append(Fraction(ratio))
    if not sum(exact):
        raise InvalidAmount(f"ratios must not all be zero, got {list(ratios)!r}")
    return exact


def allocate(amount: Money, ratios: Sequence[int | Decimal]) -> list[Money]:
    """Split by ratios (largest remainder, earlier index first); parts sum exactly."""
    checked = _check_money(amount)
    cur = get_currency(checked.currency)
    weights = _check_ratios(ratios)
    units = to_minor(checked)
    sign = -1 if units < 0 else 1
    total_units = abs(units)
    total_weight = sum(weights)
    shares = [total_units * weight / total_weight for weight in weights]
    parts = [int(share) for share in shares]  # floor, since shares are >= 0
    leftover = total_units - sum(parts)
    # Largest fractional remainder first; the stable sort keeps earlier indexes
    # ahead on ties. Zero ratios have no remainder, so they never get a unit.
    by_remainder = sorted(range(len(shares)), key=lambda i: shares[i] - parts[i], reverse=True)
    for index in by_remainder[:leftover]:
        parts[index] += 1
    return [from_minor(sign * part, cur) for part in parts]


def zero(currency: str | Currency) -> Money:
    """Zero in the currency, at its exponent (`0.00 USD`, `0 JPY`)."""
    return from_minor(0, currency)


def require_same_currency(*amounts: Money) -> Currency:
    """The one currency all amounts share; CurrencyMismatch names the first that differs."""
    if not amounts:
        raise InvalidAmount("require_same_currency needs at least one amount")
    first = _check_money(amounts[0])
    for other in amounts[1:]:
        checked = _check_money(other)
        if checked.currency != first.currency:
            raise CurrencyMismatch(
                f"currency mismatch: {first.currency.code} and {checked.currency.code}"
            )
    return get_currency(first.currency)


def sum_money(amounts: Iterable[Money], currency: str | Currency) -> Money:
    """The exact sum of amounts that must all be in `currency`; zero when empty."""
    cur = get_currency(currency)
    total = 0
    for amount in amounts:
        checked = _check_money(amount)
        if checked.currency != cur:
            raise CurrencyMismatch(
                f"currency mismatch: expected {cur.code}, got {checked.currency.code}"
            )
        total += to_minor(checked)
    return from_minor(total, cur)


def amount_str(m: Money) -> str:
    """The amount at its currency exponent in plain notation: `"12.30"`."""
    checked = _check_money(m)
    amount = checked.amount
    shape = amount.as_tuple()
    if amount and shape.exponent == -exponent(checked.currency) and len(shape.digits) <= _PRECISION:
        # Already at the currency's scale (every Money this module builds): nothing to round.
        return format(amount, "f")
    exact = _build(amount, get_currency(checked.currency), None).amount
    return format(exact, "f")


def format_amount(m: Money) -> str:
    """`"12.30 USD"`: canonical and locale-free, for logs and idempotency hashes."""
    return f"{amount_str(m)} {get_currency(m.currency).code}"
