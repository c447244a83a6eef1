"""Splitting one order's amount among its parties with no cent lost (R-FEE-2, seed 004).

Fee lines come first, each an exact Money routed to its party. What they leave
(the order amount minus every fee line, possibly negative) is shared by ratio
among the split rule's shares with largest-remainder allocation, so the lines
always sum exactly to the order amount. The common case, one residual party
(the seller) absorbing whatever the fees leave, is a rule with a single share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from settlement_core.errors import InvalidAmount, InvalidRule
from settlement_core.fees.values import check_name, check_payee, config_decimal, resolve_payee
from settlement_core.ids import external_id
from settlement_core.money import (
    Money,
    allocate,
    format_amount,
    from_minor,
    require_same_currency,
    sum_money,
    to_minor,
)

__all__ = ["Share", "SplitRule", "SplitLine", "Split", "split_amount"]

DEFAULT_SHARE_LINE = "remainder"


def _ratio(value: object) -> Decimal:
    ratio = config_decimal(value, "share ratio")
    if ratio < 0:
        raise InvalidRule(f"share ratio must not be negative, got {ratio}")
    return ratio


def _payee(_instance: object, _attribute: object, value: Any) -> None:
    check_payee(value, "share party")


def _line(_instance: object, _attribute: object, value: Any) -> None:
    check_name(value, "share line")


@frozen
class Share:
    """`party` (an id or an ``@role``) takes `ratio` parts of the remainder, as line `line`."""

    party: str = field(validator=_payee)
    ratio: Decimal = field(default=Decimal(1), converter=_ratio)
    line: str = field(default=DEFAULT_SHARE_LINE, validator=_line)


def _shares(value: Any) -> tuple[Share, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule(f"split shares must be a sequence of Share, got {value!r}")
    shares = tuple(value)
    if not shares:
        raise InvalidRule("a split rule needs at least one share to take the remainder")
    seen: set[tuple[str, str]] = set()
    for share in shares:
        if not isinstance(share, Share):
            raise InvalidRule(f"split shares must be Share values, got {type(share).__name__}")
        if (share.party, share.line) in seen:
            raise InvalidRule(f"share {share.line!r} for {share.party!r} is listed twice")
        seen.add((share.party, share.line))
    if not sum(share.ratio for share in shares):
        raise InvalidRule("share ratios must not all be zero")
    return shares


@frozen
class SplitRule:
    """Who shares what the fee lines leave of an order, and in which ratios."""

    shares: tuple[Share, ...] = field(converter=_shares)

    @classmethod
    def residual(cls, party: str, line: str = DEFAULT_SHARE_LINE) -> SplitRule:
        """One residual party (an id or ``@role``) absorbs everything the fee lines leave."""
        return cls((Share(party, Decimal(1), line),))

    @property
    def lines(self) -> frozenset[str]:
        """The line names the shares book under."""
        return frozenset(share.line for share in self.shares)


def _party(_instance: object, _attribute: object, value: Any) -> None:
    external_id(value, "split line party")


def _money(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, Money):
        raise InvalidAmount(f"a split line amount must be Money, got {type(value).__name__}")
    to_minor(value)  # refuses amounts the currency cannot hold


@frozen
class SplitLine:
    """One party's part of one order under one line (a fee name or a share line).

    `charge` marks a fee charged to this party (booked as a fee item, and billed
    apart when the party settles gross) rather than income or a share.
    """

    party: str = field(validator=_party)
    line: str = field(validator=_line)
    amount: Money = field(validator=_money)
    charge: bool = False


def _line_tuple(value: Iterable[SplitLine]) -> tuple[SplitLine, ...]:
    return tuple(value)


def _check_lines(lines: Sequence[SplitLine], amount: Money) -> None:
    seen: set[tuple[str, str]] = set()
    for line in lines:
        if not isinstance(line, SplitLine):
            raise InvalidAmount(f"split lines must be SplitLine values, got {type(line).__name__}")
        require_same_currency(amount, line.amount)
        if (line.party, line.line) in seen:
            # The pair is part of the idempotency key: a duplicate would book only once.
            raise InvalidRule(f"party {line.party!r} has two {line.line!r} lines")
        seen.add((line.party, line.line))
    total = sum_money((line.amount for line in lines), amount.currency)
    if total != amount:
        raise InvalidAmount(
            f"split lines sum to {format_amount(total)}, not the order's {format_amount(amount)}"
        )


@frozen
class Split:
    """An order amount and the lines it splits into; the lines always sum to it exactly."""

    amount: Money = field(validator=_money)
    lines: tuple[SplitLine, ...] = field(converter=_line_tuple)

    def __attrs_post_init__(self) -> None:
        _check_lines(self.lines, self.amount)

    def negated(self) -> Split:
        """The mirror image, for refunding the whole order: every line with the sign flipped."""
        return Split(
            _negate(self.amount),
            tuple(
                SplitLine(line.party, line.line, _negate(line.amount), line.charge)
                for line in self.lines
            ),
        )

    def by_party(self) -> Mapping[str, Money]:
        """Each party's total over its lines, in order of first appearance."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.party] = totals.get(line.party, 0) + to_minor(line.amount)
        currency = self.amount.currency
        return MappingProxyType({party: from_minor(u, currency) for party, u in totals.items()})


def _negate(amount: Money) -> Money:
    return from_minor(-to_minor(amount), amount.currency)


def split_amount(
    amount: Money,
    fee_lines: Sequence[SplitLine],
    rule: SplitRule,
    parties: Mapping[str, str],
) -> Split:
    """Fee lines plus the remainder shared by `rule`; the lines sum exactly to `amount`."""
    if not isinstance(rule, SplitRule):
        raise InvalidRule(f"a split needs a SplitRule, got {type(rule).__name__}")
    fees = tuple(fee_lines)
    # Checking the fee lines first makes a currency mismatch fail with its own message.
    for line in fees:
        require_same_currency(amount, line.amount)
    remainder = _subtract(amount, sum_money((line.amount for line in fees), amount.currency))
    parts = allocate(remainder, [share.ratio for share in rule.shares])
    shares = tuple(
        SplitLine(resolve_payee(share.party, parties, f"share {share.line!r}"), share.line, part)
        for share, part in zip(rule.shares, parts, strict=True)
    )
    return Split(amount, fees + shares)


def _subtract(left: Money, right: Money) -> Money:
    return from_minor(to_minor(left) - to_minor(right), left.currency)
