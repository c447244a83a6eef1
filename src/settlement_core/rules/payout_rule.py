"""Payout rules: how and when an account is paid (R-RULE-1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from attrs import field, frozen

from settlement_core.errors import InvalidRule, SettlementError
from settlement_core.money import Money, get_currency, to_minor
from settlement_core.rules.cycles import Cycle

MAX_RULE_ID_LENGTH = 64
# Rule ids end up in events, logs and config files: keep them to a boring, URL- and
# shell-safe alphabet so they never need quoting or escaping.
_RULE_ID = re.compile(r"[A-Za-z0-9_.:-]+")


def check_rule_id(value: object, what: str = "rule_id") -> str:
    """Return `value` if it is a valid rule id, else raise InvalidRule."""
    if not isinstance(value, str):
        raise InvalidRule(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidRule(f"{what} must not be empty")
    if len(value) > MAX_RULE_ID_LENGTH:
        raise InvalidRule(
            f"{what} is {len(value)} characters long; at most {MAX_RULE_ID_LENGTH} allowed"
        )
    if not _RULE_ID.fullmatch(value):
        raise InvalidRule(f"{what} {value!r} may contain only letters, digits and _ . : -")
    return value


def _validate_rule_id(_instance: object, _attribute: object, value: Any) -> None:
    check_rule_id(value)


def _validate_version(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRule(f"rule version must be an int >= 1, got {value!r}")


def _validate_cycle(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, Cycle):
        raise InvalidRule(f"cycle must be a Cycle, got {type(value).__name__}")


def _validate_flag(_instance: object, attribute: object, value: Any) -> None:
    # A truthy string such as "false" must not silently switch a payout flag on.
    if not isinstance(value, bool):
        raise InvalidRule(f"{getattr(attribute, 'name', 'flag')} must be a bool, got {value!r}")


def _validate_delay(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRule(f"delay_days must be an int >= 0, got {value!r}")


def _validate_non_negative_money(_instance: object, attribute: object, value: Any) -> None:
    what = getattr(attribute, "name", "amount")
    if value is None:
        return
    if not isinstance(value, Money):
        raise InvalidRule(f"{what} must be Money or None, got {type(value).__name__}")
    try:
        minor = to_minor(value)
    except (SettlementError, ArithmeticError) as exc:
        raise InvalidRule(f"{what} is not a valid amount: {exc}") from exc
    if minor < 0:
        raise InvalidRule(f"{what} must not be negative, got {value.amount} {value.currency.code}")


def _validate_payment_currency(_instance: object, _attribute: object, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidRule(f"payment_currency must be an ISO 4217 code, got {value!r}")
    try:
        code = get_currency(value).code
    except SettlementError as exc:
        raise InvalidRule(f"payment_currency {value!r} is not a known currency") from exc
    if code != value:
        raise InvalidRule(f"payment_currency {value!r} must be written as {code!r}")


def _effective_from(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidRule(f"effective_from must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRule(f"effective_from must be time-zone aware, got {value.isoformat()}")
    return value.astimezone(UTC)


@frozen
class PayoutRule:
    """One version of a payout rule: cycle, approval, threshold, currency, hold, delay, debt."""

    rule_id: str = field(validator=_validate_rule_id)
    version: int = field(default=1, validator=_validate_version)
    cycle: Cycle = field(factory=Cycle.daily, validator=_validate_cycle)
    auto_payment: bool = field(default=True, validator=_validate_flag)
    # Below the threshold the balance carries forward to the next cycle (R-PAY-1).
    payment_threshold: Money | None = field(default=None, validator=_validate_non_negative_money)
    # None pays each currency as booked; a code converts everything to it (R-PAY-4).
    payment_currency: str | None = field(default=None, validator=_validate_payment_currency)
    is_hold: bool = field(default=False, validator=_validate_flag)
    delay_days: int = field(default=0, validator=_validate_delay)
    # None lets debt carry forward without limit (R-PAY-5); else the largest debt allowed.
    negative_balance_limit: Money | None = field(
        default=None, validator=_validate_non_negative_money
    )
    effective_from: datetime | None = field(default=None, converter=_effective_from)
