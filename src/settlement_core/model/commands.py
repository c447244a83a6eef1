"""Commands: what a host asks for, as frozen data, in the imperative."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from attrs import field, frozen

from settlement_core.model.billing_item import AmountBasis, ItemKind
from settlement_core.money import Money, amount_str


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@frozen(kw_only=True)
class OpenAccount:
    """Get or create the account for a host's shop id (idempotent by tenant + shop id)."""

    tenant_id: str
    shop_id: str
    time_zone: str = "UTC"
    attributes: Mapping[str, str] = field(factory=dict, converter=_frozen_mapping)
    rule_override: str | None = None
    payout_method_ref: str | None = None
    payout_channel: str | None = None
    settlement_mode: str = "net"


@frozen(kw_only=True)
class RecordBillingItem:
    """Book one order's settlement line (idempotent by tenant + key)."""

    tenant_id: str
    shop_id: str
    key: str
    order_id: str
    kind: ItemKind
    amount: Money
    occurred_at: datetime
    basis: AmountBasis = AmountBasis.DELTA
    run_id: str | None = None

    def fingerprint(self) -> str:
        """A stable hash of the request's content, stored with its key (R-ING-1)."""
        return self.fingerprint_with(amount_str(self.amount), utc_text(self.occurred_at))

    def fingerprint_with(self, amount_text: str, occurred_text: str) -> str:
        """The fingerprint, from the amount and instant already written out as it writes them."""
        # Fields joined by a separator no validated identifier can contain (ids are
        # printable ASCII): cheaper than JSON on the ingest path, equally unambiguous.
        # `!s` on every field: exactly str() of each, as a join of map(str, ...) would give.
        blob = (
            f"{self.tenant_id!s}\x1f{self.shop_id!s}\x1f{self.key!s}\x1f{self.order_id!s}"
            f"\x1f{self.kind!s}\x1f{amount_text}\x1f{self.amount.currency.code!s}"
            f"\x1f{occurred_text}\x1f{self.basis!s}\x1f{self.run_id or ''!s}"
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def utc_text(instant: datetime) -> str:
    """An instant in ISO 8601 as fingerprints write it: in UTC when it is aware."""
    if instant.tzinfo is UTC:
        return instant.isoformat()  # converting to the zone it is in changes nothing
    if instant.tzinfo is not None:
        return instant.astimezone(UTC).isoformat()
    return instant.isoformat()


@frozen(kw_only=True)
class ApprovePayout:
    """An operator approves a payout waiting for approval (R-PAY-3)."""

    tenant_id: str
    payout_id: str
    approved_by: str


@frozen(kw_only=True)
class InstantPayout:
    """Pay `amount` of an account's available balance now (R-PAY-6); idempotent by tenant + key."""

    tenant_id: str
    account_id: str
    amount: Money
    key: str


@frozen(kw_only=True)
class ProposeCharge:
    """Propose a non-order charge for approval (R-FEE-5); idempotent by tenant + reference."""

    tenant_id: str
    account_id: str
    kind: str
    amount: Money
    reference: str
    reason: str
    proposed_by: str


@frozen(kw_only=True)
class OpenRun:
    """Register a calculation run before its items arrive; idempotent by tenant + run id."""

    tenant_id: str
    run_id: str
    needs_approval: bool = False
