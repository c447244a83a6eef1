"""From one order's split to the billing items that book it (R-ING-1, R-FEE-2).

Each non-zero split line becomes one `RecordBillingItem` for its party. The
idempotency key is derived only from (order id, party, line, sequence), so
pricing and booking the same order event again produces the same keys and the
ingest service books nothing twice. `sequence` numbers the order's events: 0
for the sale, then 1, 2, ... for each later refund or re-pricing, each of which
books its own (negative for a refund) lines under new keys.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from settlement_core.errors import ValidationError
from settlement_core.fees.split import Split
from settlement_core.ids import external_id
from settlement_core.model.billing_item import AmountBasis, ItemKind
from settlement_core.model.commands import RecordBillingItem
from settlement_core.money import to_minor
from settlement_core.timestamps import require_aware

__all__ = ["billing_items", "line_key"]

KEY_PREFIX = "fee-"


def line_key(order_id: str, party: str, line: str, sequence: int) -> str:
    """The deterministic idempotency key of one split line of one order event."""
    # Party and order ids are printable ASCII and line names identifiers, so the unit
    # separator cannot occur inside a field: the joined text is unambiguous. Hashing
    # keeps the key within the 128-character limit whatever the ids' lengths.
    content = "\x1f".join((order_id, party, line, str(sequence)))
    return KEY_PREFIX + hashlib.sha256(content.encode()).hexdigest()[:40]


def _kind(line_units: int, order_units: int, charge: bool) -> ItemKind:
    # The ingest service fixes the sign each kind may have: a fee charged to the party
    # is a fee, given back (on a refund) a fee refund; otherwise a line going the same
    # way as its order is a sale or a refund, and one against it (a subsidy on a sale,
    # a fee returned on a refund) is an adjustment.
    if charge:
        return ItemKind.FEE if line_units < 0 else ItemKind.FEE_REFUND
    if line_units > 0 and order_units > 0:
        return ItemKind.SALE
    if line_units < 0 and order_units < 0:
        return ItemKind.REFUND
    return ItemKind.ADJUSTMENT


def billing_items(
    split: Split,
    *,
    tenant_id: str,
    order_id: str,
    occurred_at: datetime,
    sequence: int,
    run_id: str | None = None,
) -> tuple[RecordBillingItem, ...]:
    """One RecordBillingItem per non-zero line, the party's id as shop id, keys replay-stable."""
    if not isinstance(split, Split):
        raise ValidationError(f"billing_items() needs a Split, got {type(split).__name__}")
    external_id(tenant_id, "tenant_id")
    external_id(order_id, "order_id")
    if run_id is not None:
        external_id(run_id, "run_id")
    require_aware(occurred_at, "occurred_at")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise ValidationError(f"sequence must be an int >= 0, got {sequence!r}")
    order_units = to_minor(split.amount)
    items = []
    for line in split.lines:
        units = to_minor(line.amount)
        if not units:
            continue  # nothing to book; a zero item would be refused anyway
        items.append(
            RecordBillingItem(
                tenant_id=tenant_id,
                shop_id=line.party,
                key=line_key(order_id, line.party, line.line, sequence),
                order_id=order_id,
                kind=_kind(units, order_units, line.charge),
                amount=line.amount,
                occurred_at=occurred_at,
                basis=AmountBasis.DELTA,
                run_id=run_id,
            )
        )
    return tuple(items)
