"""The order source port (R-ING-6): where a collector pulls a host's orders from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen


@frozen
class SourceRecord:
    """One raw record as the source holds it, and the change time windows select it by."""

    fields: Mapping[str, object]
    changed_at: datetime


class OrderSource(Protocol):
    """One order source of one tenant (a shop's database, a drop folder, an API)."""

    @property
    def name(self) -> str:
        """A stable name: the checkpoint and every item key derive from it."""
        ...

    @property
    def tenant_id(self) -> str:
        """The tenant the source's orders belong to."""
        ...

    def fetch(self, start: datetime, end: datetime) -> Sequence[SourceRecord]:
        """Records changed in [start, end); SourceUnavailable when the source cannot be read."""
        ...
