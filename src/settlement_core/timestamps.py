"""The one check every instant entering the library passes: it must be time-zone aware."""

from __future__ import annotations

from datetime import UTC, datetime

from settlement_core.errors import InvalidTimestamp


def require_aware(value: object, what: str) -> datetime:
    """`value` if it is a time-zone-aware datetime, else InvalidTimestamp naming `what`."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the common case, checked on every item booked
    if not isinstance(value, datetime):
        raise InvalidTimestamp(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimestamp(f"{what} must be time-zone aware, got naive {value.isoformat()}")
    return value
