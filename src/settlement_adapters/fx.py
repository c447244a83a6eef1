"""Exchange-rate adapters."""

from __future__ import annotations

from datetime import datetime

from settlement_core.errors import FxRateUnavailable
from settlement_core.model import FxQuote


class NoFxRates:
    """For deployments that pay every balance in its own currency: any quote is refused."""

    def quote(self, base: str, quote: str, at: datetime) -> FxQuote:
        """Always FxRateUnavailable."""
        raise FxRateUnavailable(f"no exchange rates configured ({base} to {quote} asked)")
