"""The system clock."""

from __future__ import annotations

from datetime import UTC, datetime

from settlement_core.timestamps import require_aware


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


class FixedClock:
    """A clock standing at one instant: a job run "as of" a time records that time."""

    def __init__(self, instant: datetime) -> None:
        self._instant = require_aware(instant, "instant").astimezone(UTC)

    def now(self) -> datetime:
        """The fixed instant."""
        return self._instant
