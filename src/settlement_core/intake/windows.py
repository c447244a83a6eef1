"""Collection windows (R-ING-6): small time slices from a checkpoint, re-read with an overlap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from attrs import frozen

from settlement_core.errors import ValidationError


@frozen
class Window:
    """One slice [start, end) of a source's change times, read from `read_from`."""

    start: datetime
    end: datetime
    read_from: datetime


@frozen
class WindowPlan:
    """How a source is sliced: window size and how far back each window re-reads.

    A record is collected when it arrives at most `lateness` after its change
    time: the last window whose re-read reaches back over it runs after it arrived.
    """

    size: timedelta = timedelta(minutes=1)
    lateness: timedelta = timedelta(minutes=5)
    max_windows: int = 1440

    def __attrs_post_init__(self) -> None:
        if self.size <= timedelta(0):
            raise ValidationError("a collection window must be longer than zero")
        if self.lateness < timedelta(0):
            raise ValidationError("the lateness allowance cannot be negative")
        if self.max_windows < 1:
            raise ValidationError("a collection run needs at least one window")

    def windows(self, checkpoint: datetime, as_of: datetime) -> Iterator[Window]:
        """The complete windows after `checkpoint` that end by `as_of`, at most `max_windows`."""
        start = checkpoint
        for _ in range(self.max_windows):
            end = start + self.size
            if end > as_of:
                return
            yield Window(start, end, start - self.lateness)
            start = end
