"""An in-memory order source for tests: records that arrive late, and a switch to take it down."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from attrs import define, field

from settlement_core.errors import SourceUnavailable
from settlement_core.intake import FieldKind, FieldMapping, FieldSpec
from settlement_core.ports import SourceRecord

ORDER_MAPPING = FieldMapping(
    {
        "order_id": FieldSpec("ORDER_NO"),
        "shop_id": FieldSpec("SELLER"),
        "currency": FieldSpec("CCY"),
        "amount": FieldSpec("PAY_AMOUNT", FieldKind.DECIMAL),
        "occurred_at": FieldSpec("PAID_AT", FieldKind.TIMESTAMP),
    }
)
"""The mapping of ListSource's plain order records (a source's own column names)."""


@define
class ListSource:
    """Records with a change time and an arrival time; only arrived ones are visible."""

    name: str
    tenant_id: str
    now: Callable[[], datetime]
    records: list[tuple[SourceRecord, datetime]] = field(factory=list)
    down: bool = False
    fetches: int = 0

    def add(self, fields: Mapping[str, object], changed_at: datetime, arrives_at: datetime) -> None:
        """A record the source will show from `arrives_at` on."""
        self.records.append((SourceRecord(dict(fields), changed_at), arrives_at))

    def fetch(self, start: datetime, end: datetime) -> Sequence[SourceRecord]:
        """Arrived records changed in [start, end)."""
        if self.down:
            raise SourceUnavailable(f"source {self.name} is down")
        self.fetches += 1
        now = self.now()
        return [r for r, arrives in self.records if arrives <= now and start <= r.changed_at < end]


def order_fields(order_id: str, shop_id: str, amount: str, paid_at: datetime) -> dict[str, object]:
    """A plain order record in ListSource's column names, with columns settlement ignores."""
    return {
        "ORDER_NO": f"  {order_id} ",
        "SELLER": shop_id,
        "CCY": "usd",
        "PAY_AMOUNT": amount,
        "PAID_AT": paid_at.isoformat(),
        "BUYER_PHONE": "+00 000",
        "WAREHOUSE": "north",
    }


_T = FieldKind.TIMESTAMP
STATUS_MAPPING = FieldMapping(
    {
        "order_id": FieldSpec("ORDER_NO"),
        "shop_id": FieldSpec("PARTNER"),
        "currency": FieldSpec("CCY"),
        "status": FieldSpec("STATE"),
        "amount": FieldSpec("PRICE", FieldKind.DECIMAL),
        "placed_at": FieldSpec("LOCKED_AT", _T, optional=True),
        "fulfilled_at": FieldSpec("FIXED_AT", _T, optional=True),
        "cancelled_at": FieldSpec("CANCELED_AT", _T, optional=True),
        "supplier_refunded_at": FieldSpec("SUPPLIER_REFUNDED_AT", _T, optional=True),
        "refunded_at": FieldSpec("REFUNDED_AT", _T, optional=True),
    }
)
"""The mapping of seed 002's order records (its status names, one column per instant)."""


def status_fields(
    order_id: str, partner: str, state: str, price: str, **times: datetime
) -> dict[str, object]:
    """An order record of seed 002 in STATUS_MAPPING's columns; times by target name."""
    columns = {
        "placed_at": "LOCKED_AT",
        "fulfilled_at": "FIXED_AT",
        "cancelled_at": "CANCELED_AT",
        "supplier_refunded_at": "SUPPLIER_REFUNDED_AT",
        "refunded_at": "REFUNDED_AT",
    }
    fields: dict[str, object] = {
        "ORDER_NO": order_id,
        "PARTNER": partner,
        "CCY": "CNY",
        "STATE": state,
        "PRICE": price,
    }
    fields.update({columns[name]: at.isoformat() for name, at in times.items()})
    return fields
