"""The metrics port (R-MON-2): business counters for the host's metrics system.

The catalogue below names every counter the library emits and its labels, so an
adapter can declare them all up front (Prometheus needs label names when a
counter is made). Counters are emitted after the transaction that did the work
commits, so a retried command is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

ITEMS_INGESTED = "items_ingested"
AMOUNT_INGESTED = "amount_ingested_minor"
PAYOUTS_CREATED = "payouts_created"
PAYOUTS_PAID = "payouts_paid"
PAYOUTS_FAILED = "payouts_failed"
PAYOUTS_RETURNED = "payouts_returned"
DISCREPANCIES_FOUND = "discrepancies_found"

CATALOGUE: Mapping[str, tuple[str, tuple[str, ...]]] = {
    ITEMS_INGESTED: ("Billing items recorded (replays not counted).", ()),
    AMOUNT_INGESTED: (
        "Amount of billing items recorded, in minor units (in: sales, out: refunds).",
        ("currency", "direction"),
    ),
    PAYOUTS_CREATED: ("Payouts created.", ("kind",)),
    PAYOUTS_PAID: ("Payouts a channel (or the host) reported paid.", ("channel",)),
    PAYOUTS_FAILED: ("Payout failures; final ones gave the money back.", ("channel", "final")),
    PAYOUTS_RETURNED: ("Paid payouts the receiving bank sent back.", ("channel",)),
    DISCREPANCIES_FOUND: ("Discrepancies reconciliation recorded.", ("kind",)),
}
"""Every counter: name -> (description, label names)."""


class Metrics(Protocol):
    """Where the library's counters go."""

    def count(self, name: str, value: int = 1, labels: Mapping[str, str] | None = None) -> None:
        """Add `value` to the counter `name` (one of CATALOGUE) with these labels."""
        ...


class NoMetrics:
    """The default: counts nothing."""

    def count(self, name: str, value: int = 1, labels: Mapping[str, str] | None = None) -> None:
        """Drop the count."""
