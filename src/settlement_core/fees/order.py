"""The order a fee schedule prices, and the port that supplies missing factors.

Seed 004's "data snapshot" and "data strategy" services: factor values come
with the order where the host has them, and from a `FactorProvider` (the
product, coupon or policy system behind an adapter) where it does not. Either
way the values used are recorded on the result, for audit and replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from attrs import field, frozen

from settlement_core.errors import InvalidAmount, ValidationError
from settlement_core.fees.values import check_name, factor_value
from settlement_core.ids import external_id
from settlement_core.money import Money, to_minor
from settlement_core.timestamps import require_aware

__all__ = ["Order", "FactorProvider", "RESERVED_ATTRIBUTES"]

# Matching sees the tenant and business line as attributes of these names.
RESERVED_ATTRIBUTES = frozenset({"tenant", "business"})


def _attributes(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"order attributes must be a mapping, got {type(value).__name__}")
    for name, attribute in value.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"order attribute names must be non-empty strings: {name!r}")
        if name in RESERVED_ATTRIBUTES:
            raise ValidationError(f"order attribute {name!r} is set by the order's own field")
        if not isinstance(attribute, str):
            raise ValidationError(f"order attribute {name!r} must be a string, got {attribute!r}")
    return MappingProxyType(dict(value))


def _parties(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"order parties must be a mapping, got {type(value).__name__}")
    for role, party in value.items():
        check_name(role, "party role")
        external_id(party, f"party for role {role!r}")
    return MappingProxyType(dict(value))


def _factors(value: Any) -> Mapping[str, Decimal]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"order factors must be a mapping, got {type(value).__name__}")
    return MappingProxyType(
        {check_name(name, "factor name"): factor_value(name, v) for name, v in value.items()}
    )


def _external(_instance: object, attribute: Any, value: Any) -> None:
    external_id(value, attribute.name)


def _amount(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, Money):
        raise InvalidAmount(f"order amount must be Money, got {type(value).__name__}")
    to_minor(value)  # refuses NaN, unknown currencies and excess precision


def _aware(value: Any) -> datetime:
    return require_aware(value, "order time")


@frozen(kw_only=True)
class Order:
    """One order (or one refund of it) as the fee engine sees it."""

    order_id: str = field(validator=_external)
    tenant_id: str = field(validator=_external)
    business: str = field(validator=_external)
    # The amount the split shares out exactly: positive for a sale, negative for a refund.
    amount: Money = field(validator=_amount)
    # When the order happened: picks the schedule in effect and dates the billing items.
    at: datetime = field(converter=_aware)
    # Further matching attributes: category, seller type, region, ...
    attributes: Mapping[str, str] = field(factory=dict, converter=_attributes)
    # Who fills each role of this order: seller, supplier, store, guide, ...
    parties: Mapping[str, str] = field(factory=dict, converter=_parties)
    # Factor values the host already has (price, coupon, rates, ...).
    factors: Mapping[str, Decimal] = field(factory=dict, converter=_factors)

    @property
    def currency(self) -> str:
        """The order's ISO 4217 currency code."""
        return str(self.amount.currency.code)

    def match_attributes(self) -> Mapping[str, str]:
        """What schedule rules match on: tenant, business and the other attributes."""
        return {"tenant": self.tenant_id, "business": self.business, **self.attributes}


class FactorProvider(Protocol):
    """Supplies factor values an order did not carry (a port; adapters fetch them)."""

    def factors(self, names: Sequence[str], order: Order) -> Mapping[str, Decimal]:
        """Values for as many of `names` as it knows; the rest stay missing."""
        ...
