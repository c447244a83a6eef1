"""Ports to the world outside storage: time, exchange rates."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from settlement_core.model import FxQuote


class Clock(Protocol):
    """The current time, always time-zone aware."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class FxRates(Protocol):
    """Exchange rates for payouts in another currency (R-PAY-4)."""

    def quote(self, base: str, quote: str, at: datetime) -> FxQuote:
        """The rate to convert `base` into `quote` at `at`, or FxRateUnavailable."""
        ...
