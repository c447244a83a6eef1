"""Per-source field mappings (R-ING-6): trim a raw record to what settlement needs.

A source's record may carry thirty columns under its own names; a mapping
names the few settlement reads, renames them, converts each to its type and
validates it. Amounts are read exactly (str, int or Decimal; a float is
refused, never rounded), instants must carry a time zone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from attrs import field, frozen

from settlement_core.errors import RecordRejected, SettlementError
from settlement_core.ids import external_id
from settlement_core.money import Money, money
from settlement_core.timestamps import require_aware

# The fields every mapped record has; the rest are amounts and instants by name.
ORDER_ID = "order_id"
SHOP_ID = "shop_id"
CURRENCY = "currency"
STATUS = "status"
IDENTIFIERS = (ORDER_ID, SHOP_ID)


class FieldKind(enum.StrEnum):
    """What a mapped field is converted to."""

    TEXT = "text"
    DECIMAL = "decimal"
    TIMESTAMP = "timestamp"


@frozen
class FieldSpec:
    """Where a target field comes from in the source record, and what it must be."""

    source: str
    kind: FieldKind = FieldKind.TEXT
    optional: bool = False


@frozen
class OrderRecord:
    """A source record trimmed and typed: the only shape the collector books from."""

    order_id: str
    shop_id: str
    status: str | None
    amounts: Mapping[str, Money]
    times: Mapping[str, datetime]

    def amount(self, name: str) -> Money:
        """A named amount, or RecordRejected when the record has none."""
        found = self.amounts.get(name)
        if found is None:
            raise RecordRejected(f"order {self.order_id} has no amount {name!r}")
        return found


def _frozen(value: Mapping[str, FieldSpec]) -> Mapping[str, FieldSpec]:
    return MappingProxyType(dict(value))


@frozen
class FieldMapping:
    """Target field -> FieldSpec. `order_id`, `shop_id` and `currency` are required targets."""

    fields: Mapping[str, FieldSpec] = field(converter=_frozen)

    def __attrs_post_init__(self) -> None:
        for target in (*IDENTIFIERS, CURRENCY):
            spec = self.fields.get(target)
            if spec is None or spec.kind is not FieldKind.TEXT or spec.optional:
                raise RecordRejected(f"a field mapping needs a required text field {target!r}")

    def apply(self, raw: Mapping[str, object]) -> OrderRecord:
        """The typed record, or RecordRejected naming the first field that does not fit."""
        values: dict[str, object] = {}
        for target, spec in self.fields.items():
            value = _read(raw, spec)
            if value is not None:
                values[target] = value
        currency = str(values[CURRENCY]).upper()
        amounts: dict[str, Money] = {}
        times: dict[str, datetime] = {}
        for target, spec in self.fields.items():
            if target not in values:
                continue
            if spec.kind is FieldKind.DECIMAL:
                amounts[target] = _money(values[target], currency, spec.source)
            elif spec.kind is FieldKind.TIMESTAMP:
                times[target] = values[target]  # type: ignore[assignment]
        try:
            ids = {name: external_id(values[name], name) for name in IDENTIFIERS}
        except SettlementError as exc:
            raise RecordRejected(str(exc)) from None
        status = values.get(STATUS)
        return OrderRecord(
            order_id=ids[ORDER_ID],
            shop_id=ids[SHOP_ID],
            status=None if status is None else str(status),
            amounts=MappingProxyType(amounts),
            times=MappingProxyType(times),
        )


def _read(raw: Mapping[str, object], spec: FieldSpec) -> object:
    value = raw.get(spec.source)
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if spec.optional:
            return None
        raise RecordRejected(f"field {spec.source!r} is missing")
    if spec.kind is FieldKind.TEXT:
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise RecordRejected(f"field {spec.source!r} must be text, got {type(value).__name__}")
        return str(value)
    if spec.kind is FieldKind.DECIMAL:
        return _decimal(value, spec.source)
    return _instant(value, spec.source)


def _decimal(value: object, name: str) -> Decimal:
    # A float has already lost the exact amount the source held: refuse it, never round it.
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise RecordRejected(f"field {name!r} must be an exact decimal, got {type(value).__name__}")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise RecordRejected(f"field {name!r} is not a decimal: {value!r}") from None
    if not parsed.is_finite():
        raise RecordRejected(f"field {name!r} is not finite: {value!r}")
    return parsed


def _money(value: object, currency: str, name: str) -> Money:
    try:
        return money(value, currency)  # type: ignore[arg-type]
    except SettlementError as exc:
        raise RecordRejected(f"field {name!r}: {exc}") from None


def _instant(value: object, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise RecordRejected(f"field {name!r} is not an ISO 8601 instant: {value!r}") from None
    try:
        return require_aware(value, f"field {name!r}")
    except SettlementError as exc:
        raise RecordRejected(str(exc)) from None
