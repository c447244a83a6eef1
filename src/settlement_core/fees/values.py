"""Names, numbers and payees, checked the same way by every fee module.

Factor and fee names are identifiers (so a formula can mention them); numbers
are exact Decimals (never floats); a payee is either a settlement party id or
``@role``, a role the order fills (``@seller``, ``@supplier``, ``@guide``).
"""

from __future__ import annotations

import decimal
import keyword
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from settlement_core.errors import InvalidIdentifier, InvalidRule
from settlement_core.fees.errors import InvalidFactor, MissingParty
from settlement_core.ids import external_id

MAX_NAME_LENGTH: Final = 64
# Significant digits of formula arithmetic: far beyond any amount and rate product,
# so + - * stay exact and only division ever rounds.
PRECISION: Final = 60
ROLE_PREFIX: Final = "@"
# Callables a formula may use; they cannot double as factor or fee names.
FUNCTIONS: Final = frozenset(
    {"min", "max", "abs", "round_half_up", "round_half_even", "round_down", "round_up"}
)

# Config numbers are written like money amounts: plain digits, no exponent, no float.
_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _context(*, exact: bool) -> decimal.Context:
    traps: list[type[decimal.DecimalException]] = [
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
    ]
    if exact:
        traps.append(decimal.Inexact)
    return decimal.Context(
        prec=PRECISION,
        rounding=decimal.ROUND_HALF_EVEN,
        Emin=decimal.MIN_EMIN,
        Emax=decimal.MAX_EMAX,
        flags=[],
        traps=traps,
    )


# Templates only: use them through `decimal.localcontext`, which works on a copy,
# so concurrent evaluations never share flags.
EXACT: Final = _context(exact=True)
ROUNDED: Final = _context(exact=False)


def check_name(value: object, what: str) -> str:
    """`value` if it is a usable factor, fee or line name, else InvalidRule naming `what`."""
    if not isinstance(value, str):
        raise InvalidRule(f"{what} must be a string, got {type(value).__name__}")
    if not value.isidentifier() or keyword.iskeyword(value):
        raise InvalidRule(f"{what} {value!r} must be an identifier such as 'coupon_amount'")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidRule(f"{what} {value!r} is longer than {MAX_NAME_LENGTH} characters")
    # Python folds identifiers to NFKC when parsing a formula; a name that is not
    # already folded could never be matched by the formula that mentions it.
    if unicodedata.normalize("NFKC", value) != value:
        raise InvalidRule(f"{what} {value!r} is not in Unicode normal form NFKC")
    if value in FUNCTIONS:
        raise InvalidRule(f"{what} {value!r} is the name of a formula function")
    return value


def config_decimal(value: object, what: str) -> Decimal:
    """An exact Decimal from configuration: Decimal, int or a plain string, never a float."""
    if isinstance(value, bool):
        raise InvalidRule(f"{what} must be a decimal number, got {value!r}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidRule(f"{what} must be finite, got {value}")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    raise InvalidRule(
        f"{what} must be a Decimal, an int or a plain decimal string such as '0.05', "
        f"got {value!r} ({type(value).__name__})"
    )


def factor_value(name: str, value: object) -> Decimal:
    """A factor's value if it is a finite Decimal or an int, else InvalidFactor."""
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise InvalidFactor(
        f"factor {name!r} must be a finite Decimal, got {value!r} ({type(value).__name__})"
    )


def check_payee(value: object, what: str) -> str:
    """`value` if it is a party id or an ``@role``, else InvalidRule naming `what`."""
    if isinstance(value, str) and value.startswith(ROLE_PREFIX):
        check_name(value[len(ROLE_PREFIX) :], f"{what} role")
        return value
    try:
        return external_id(value, what)
    except InvalidIdentifier as exc:
        raise InvalidRule(str(exc)) from None


def resolve_payee(payee: str, parties: Mapping[str, str], what: str) -> str:
    """The party id a payee stands for: itself, or the party the order names for its role."""
    if not payee.startswith(ROLE_PREFIX):
        return payee
    role = payee[len(ROLE_PREFIX) :]
    party = parties.get(role)
    if party is None:
        raise MissingParty(f"{what} goes to {payee!r}, but the order names no {role!r} party")
    return party


def config_mapping(value: object, what: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    """`value` if it is a mapping with only `allowed` keys, else InvalidRule naming `what`."""
    if not isinstance(value, Mapping):
        raise InvalidRule(f"{what} must be a mapping, got {type(value).__name__}")
    # A misspelt key silently ignored would leave a fee computed the wrong way.
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise InvalidRule(f"{what} has unknown keys: {', '.join(unknown)}")
    return value
