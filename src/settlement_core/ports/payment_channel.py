"""The payment channel port: how payouts reach a bank or provider (R-REL-3, R-REL-4, R-SEC-1).

A channel is asked three things: take a payout (`submit`), say what became of
one (`status`), and read a callback it sent (`parse_callback`). Every answer is
a `ChannelResult`. Whatever a channel cannot vouch for is `UNKNOWN`: the core
then keeps the payout's money claimed and asks again later, and never sends the
payout a second time on a guess.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from attrs import frozen


class Outcome(enum.StrEnum):
    """What a channel says about one submission."""

    ACCEPTED = "accepted"  # it has the payout and is working on it
    PAID = "paid"
    FAILED = "failed"
    RETURNED = "returned"  # it was paid, then sent back by the receiving bank
    UNKNOWN = "unknown"  # no answer (timeout, crash): it may or may not have the payout
    NOT_FOUND = "not_found"  # it has no record of this idempotency key (status queries)


@frozen(kw_only=True)
class PayoutInstruction:
    """One submission of a payout; the channel executes each idempotency key at most once."""

    idempotency_key: str
    tenant_id: str
    payout_id: str
    account_id: str
    method_ref: str | None
    amount_minor: int
    currency: str


@frozen(kw_only=True)
class ChannelResult:
    """A channel's answer about one idempotency key."""

    idempotency_key: str
    outcome: Outcome
    # For FAILED: whether the payout may be sent again (the adapter maps provider codes).
    retryable: bool = False
    code: str | None = None
    message: str = ""
    provider_ref: str | None = None


@frozen(kw_only=True)
class CallbackNotice:
    """A verified callback: its nonce (accepted once) and what it reports."""

    nonce: str
    sent_at: datetime
    result: ChannelResult


class PaymentChannel(Protocol):
    """A bank, wallet or payout provider, as the core sees it."""

    @property
    def name(self) -> str:
        """The name payouts are routed by (an account's `payout_channel`)."""
        ...

    def submit(self, instruction: PayoutInstruction) -> ChannelResult:
        """Hand over a payout; a timeout or lost answer is UNKNOWN, never an exception."""
        ...

    def status(self, idempotency_key: str) -> ChannelResult:
        """What became of a submission; NOT_FOUND when the channel never received it."""
        ...

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackNotice:
        """Verify a callback's signature and time window, then decode it.

        Raises BadSignature or StaleCallback (from settlement_core.errors); the
        nonce is checked against storage by the core, not here.
        """
        ...


class ChannelRecord(Protocol):
    """One row of a channel's settlement report, as reconciliation reads it."""

    @property
    def idempotency_key(self) -> str:
        """The key the channel saw (`<payout id>.<attempt>`)."""
        ...

    @property
    def amount_minor(self) -> int:
        """What the channel moved, in minor units."""
        ...

    @property
    def currency(self) -> str:
        """The currency it moved."""
        ...

    @property
    def status(self) -> Outcome:
        """Where the submission stands at the channel."""
        ...

    @property
    def submitted_at(self) -> datetime:
        """When the channel received it."""
        ...
