"""The typed errors every public API raises.

Callers catch `SettlementError` for anything the library refuses, or one of its
children to react to a specific case. Every error carries a readable message;
none of them is raised after anything was stored.
"""

from __future__ import annotations

from collections.abc import Iterable


class SettlementError(Exception):
    """Root of every error the library raises on purpose."""


class ValidationError(SettlementError, ValueError):
    """A request was malformed; nothing was stored."""


class InvalidAmount(ValidationError):
    """An amount is not an exact decimal (float, NaN, infinity, garbage)."""


class UnknownCurrency(ValidationError):
    """A currency code is not an ISO 4217 currency the library knows."""


class ExcessPrecision(ValidationError):
    """An amount has more decimal digits than its currency allows."""


class CurrencyMismatch(ValidationError):
    """Two amounts that must share a currency do not."""


class InvalidTimestamp(ValidationError):
    """A timestamp is naive (no time zone) or otherwise unusable."""


class InvalidIdentifier(ValidationError):
    """An identifier is empty, too long or contains characters we refuse."""


class InvalidRule(ValidationError):
    """A payout rule, cycle or rule-engine configuration is inconsistent."""


class InvalidTransition(SettlementError):
    """A state change that the aggregate's state machine does not allow."""

    def __init__(self, aggregate: str, state: str, trigger: str) -> None:
        self.aggregate = aggregate
        self.state = state
        self.trigger = trigger
        super().__init__(f"{aggregate} in state {state!r} cannot {trigger!r}")


class IdempotencyConflict(SettlementError):
    """An idempotency key was replayed with different content."""


class NotFound(SettlementError, LookupError):
    """The requested object does not exist (or belongs to another tenant)."""


class ConcurrencyConflict(SettlementError):
    """Another writer changed the aggregate first; retry the command."""


class UnbalancedTransaction(SettlementError):
    """A journal transaction whose entries do not sum to zero per currency."""


class NegativeBalanceLimitExceeded(SettlementError):
    """A debit would take an account below its allowed negative balance."""


class FxRateUnavailable(SettlementError):
    """No exchange rate is available for the requested pair and time."""


class InsufficientBalance(SettlementError):
    """An account's available balance does not cover what was asked of it."""


class RunPaidOut(SettlementError):
    """A run cannot be revoked: some of its items are already paid out (or in a payout)."""


class RunRevoked(SettlementError):
    """A run was revoked (or is being revoked); it takes no more items."""


class RecordRejected(ValidationError):
    """A source record does not fit its field mapping (missing, malformed or float field)."""


class SourceUnavailable(SettlementError):
    """An order source could not be read; the collector keeps its checkpoint and tries later."""


class UnknownChannel(NotFound):
    """No payment channel is registered under this name."""


class CallbackRejected(SettlementError):
    """A channel callback was refused; nothing was applied."""


class BadSignature(CallbackRejected):
    """The callback's signature is missing or does not match its body."""


class StaleCallback(CallbackRejected):
    """The callback's timestamp is outside the accepted window."""


class ReplayedCallback(CallbackRejected):
    """The callback's nonce was accepted before; a replay is never applied twice."""


# The fee engine's errors. Definition problems (a bad formula, a cycle, an overlap)
# are InvalidRules raised when configuration is loaded; these surface while pricing
# one order, before anything is booked.


class FeeEvaluationError(SettlementError):
    """A formula or calculator could not produce a fee for this order."""


class MissingFactor(FeeEvaluationError, LookupError):
    """Factors a schedule needs were neither given with the order nor provided."""

    def __init__(self, names: Iterable[str], where: str) -> None:
        self.names = tuple(sorted(names))
        super().__init__(f"missing factors for {where}: {', '.join(self.names)}")


class FeeDivisionByZero(FeeEvaluationError, ZeroDivisionError):
    """A formula divided by zero for this order's factors."""


class InvalidFactor(ValidationError):
    """A factor value is not a finite Decimal (a float, NaN, infinity or garbage)."""


class UnknownCalculator(InvalidRule):
    """Configuration names a calculator type nobody registered."""


class NoMatchingSchedule(NotFound):
    """No fee schedule rule matches the order's attributes at the order's time."""


class NoRoute(NotFound):
    """No route says which settlement party settles this fee."""


class MissingParty(ValidationError):
    """A route or share names a role (``@seller``) the order does not fill."""
