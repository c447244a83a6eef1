"""The outbox: events stored with the change that raised them, published after commit."""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import attrs
from attrs import frozen

from settlement_core.model import Event

JsonValue = str | int | bool | None | list[Any] | dict[str, Any]


@frozen
class OutboxMessage:
    """One event as it leaves the library: a name and a JSON-ready payload."""

    id: str
    tenant_id: str
    name: str
    payload: Mapping[str, JsonValue]
    created_at: datetime


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> JsonValue:
    if type(value) in _SCALARS:  # most fields: exact types only, so enums still convert
        return value  # type: ignore[no-any-return]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str | int | bool) or value is None:
        return value
    raise TypeError(f"cannot serialise {type(value).__name__} in an event")


_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _fields(kind: type[Event]) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    found = _FIELDS.get(kind)
    if found is None:
        names = tuple(f.name for f in attrs.fields(kind))
        get = operator.attrgetter(*names)
        # One getter call reads every field (a tuple, even for a single field).
        read: Callable[[Any], tuple[Any, ...]] = get if len(names) > 1 else lambda e: (get(e),)
        found = _FIELDS[kind] = (names, read)
    return found


def to_message(event: Event, message_id: str) -> OutboxMessage:
    """Serialise a domain event for the outbox."""
    names, read = _fields(type(event))
    # Every ingested item raises an event: scalars, most fields, skip the call.
    scalars = _SCALARS
    payload = {
        name: value if type(value) in scalars else _plain(value)
        for name, value in zip(names, read(event), strict=True)
    }
    return OutboxMessage(
        id=message_id,
        tenant_id=event.tenant_id,
        name=event.name,
        payload=payload,
        created_at=event.at,
    )


class Outbox(Protocol):
    """Stored events awaiting publication."""

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Stage messages in the current transaction."""
        ...

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Messages not yet marked sent, oldest first."""
        ...

    def mark_sent(self, message_ids: Sequence[str]) -> None:
        """Record that messages were delivered."""
        ...


class EventPublisher(Protocol):
    """The host's message bus; delivery is at least once, so consumers dedupe by id."""

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver messages; raise to leave them pending for the next attempt."""
        ...
