"""What every aggregate shares: identity, version, pending events, lifecycle moves."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from settlement_core.lifecycle import next_state
from settlement_core.model.events import Event, StatusChanged


class Aggregate:
    """Mixin for attrs aggregates with `id`, `tenant_id`, `status`, `version`, `events`."""

    __slots__ = ()

    id: str
    tenant_id: str
    status: Any
    version: int
    events: list[Event]

    def _move(self, trigger: str, at: datetime) -> None:
        """Apply `trigger` through the lifecycle and record the change as an event."""
        source: enum.StrEnum = self.status
        dest = next_state(source, trigger)
        self.status = dest
        self.events.append(
            status_changed(type(self).__name__, self.id, self.tenant_id, trigger, source, dest, at)
        )


def status_changed(
    aggregate: str,
    aggregate_id: str,
    tenant_id: str,
    trigger: str,
    source: enum.StrEnum,
    dest: enum.StrEnum,
    at: datetime,
) -> StatusChanged:
    """The event of one lifecycle move; a bulk move in storage records one per row it moved."""
    return StatusChanged(
        tenant_id=tenant_id,
        at=at,
        aggregate=aggregate,
        aggregate_id=aggregate_id,
        trigger=trigger,
        source=source.value,
        dest=dest.value,
    )
