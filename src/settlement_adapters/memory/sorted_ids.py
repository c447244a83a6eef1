"""Ids kept in sorted order, for the jobs that page through payouts by status.

The release, poll and retry jobs read payouts of one status in id order, a page
after a cursor at a time. Filtering and sorting every payout for each page made
a run quadratic in payouts: a hundred thousand payouts took hundreds of pages
over all of them. Here each status keeps its ids sorted, and a page starts at
its cursor by bisection.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

# Removed ids stay listed until they outnumber the live ones by this margin.
_SLACK = 64


class SortedIds:
    """A set of ids read in sorted order after a cursor; adds and removes are cheap.

    Ids are listed in a sorted list and marked live in a dict. Removing an id
    only unmarks it; the list is rebuilt once more than half of it is dead. Ids
    minted in time order (UUIDv7) are appended at the end of the list.
    """

    __slots__ = ("_live", "_order")

    def __init__(self) -> None:
        self._live: dict[str, None] = {}
        self._order: list[str] = []

    def add(self, obj_id: str) -> None:
        """Put an id in (nothing if it is in)."""
        live = self._live
        if obj_id in live:
            return
        live[obj_id] = None
        order = self._order
        if not order or order[-1] < obj_id:
            order.append(obj_id)
            return
        at = bisect.bisect_left(order, obj_id)
        if at == len(order) or order[at] != obj_id:  # else: still listed since its removal
            order.insert(at, obj_id)

    def discard(self, obj_id: str) -> None:
        """Take an id out (nothing if it is not in)."""
        live = self._live
        if obj_id not in live:
            return
        del live[obj_id]
        if len(self._order) > 2 * len(live) + _SLACK:
            self._order = sorted(live)

    def after(self, cursor: str | None) -> Iterator[str]:
        """The ids after `cursor` (all if None), in order; the set must not change meanwhile."""
        order, live = self._order, self._live
        start = 0 if cursor is None else bisect.bisect_right(order, cursor)
        for at in range(start, len(order)):
            obj_id = order[at]
            if obj_id in live:
                yield obj_id

    def __len__(self) -> int:
        """How many ids are in."""
        return len(self._live)

    def __contains__(self, obj_id: object) -> bool:
        """Whether an id is in."""
        return obj_id in self._live
