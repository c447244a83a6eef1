"""Which provider error codes allow sending a payout again (R-REL-4)."""

from __future__ import annotations

from attrs import frozen

from settlement_core.errors import InvalidRule


@frozen(kw_only=True)
class FailurePolicy:
    """Maps a provider's failure codes to retryable (True) or permanent (False)."""

    retryable: frozenset[str] = frozenset()
    permanent: frozenset[str] = frozenset()
    # Unknown codes are permanent unless told otherwise: a wrong "retry" may pay twice.
    default_retryable: bool = False

    def __attrs_post_init__(self) -> None:
        """Refuse a code that is listed as both retryable and permanent."""
        both = self.retryable & self.permanent
        if both:
            raise InvalidRule(f"codes both retryable and permanent: {', '.join(sorted(both))}")

    def classify(self, code: str | None) -> bool:
        """True when a failure with `code` may be retried; unknown codes follow the default."""
        if code in self.retryable:
            return True
        if code in self.permanent:
            return False
        return self.default_retryable


SIMULATED_CODES = FailurePolicy(
    retryable=frozenset({"insufficient_funds_at_bank", "bank_unavailable", "rate_limited"}),
    permanent=frozenset(
        {"account_closed", "invalid_account", "name_mismatch", "idempotency_key_reused"}
    ),
)
"""The simulated bank's codes and how they classify; also its default policy."""
