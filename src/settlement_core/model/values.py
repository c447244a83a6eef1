"""Frozen value objects shared by aggregates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attrs import frozen


@frozen
class FxQuote:
    """A recorded exchange rate: 1 unit of `base` buys `rate` units of `quote`."""

    base: str
    quote: str
    rate: Decimal
    as_of: datetime
    source: str = "unspecified"


@frozen
class PayoutSource:
    """The part of a payout drawn from one balance currency, and how it was converted."""

    currency: str
    amount_minor: int
    converted_minor: int
    fx: FxQuote | None = None
