"""The in-memory store's untracked tables answer exactly as plain dicts and lists would.

UntrackedDict splits a table between an overlay and a main dict, and moves rows
between them as the collector untracks them; ItemGroups keeps ids as packed
ordinals. Whatever the order of writes, collections and settles, every read
must give what a plain dict (or a dict of lists) given the same writes gives.
"""

from __future__ import annotations

import gc
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from settlement_adapters.memory import untracked
from settlement_adapters.memory.untracked import ItemGroups, ItemOrdinals, UntrackedDict

KEY_NAMES = [f"k{n}" for n in range(12)]
KEYS = st.sampled_from(KEY_NAMES)


class UntrackedTables(RuleBasedStateMachine):
    """Random writes, collections and settles against a plain-dict model."""

    def __init__(self) -> None:
        super().__init__()
        # Settle from two waiting rows on, so runs of a few steps exercise both halves.
        self._settle_at = untracked._SETTLE_AT
        untracked._SETTLE_AT = 2
        # Only the `collect` rule untracks rows, so a failing run replays the same way.
        self._gc_was_on = gc.isenabled()
        gc.disable()
        self.rows: UntrackedDict[str, tuple[Any, ...]] = UntrackedDict()
        self.model: dict[str, tuple[Any, ...]] = {}
        self.ordinals = ItemOrdinals()
        self.groups: ItemGroups[str] = ItemGroups(self.ordinals)
        self.filed: dict[str, list[str]] = {}
        self.minted = 0

    def teardown(self) -> None:
        untracked._SETTLE_AT = self._settle_at
        if self._gc_was_on:
            gc.enable()

    @rule(key=KEYS, n=st.integers(), stays_tracked=st.booleans())
    def write(self, key: str, n: int, stays_tracked: bool) -> None:
        # A row holding a list is tracked for good; one of ints and strings is not
        # once a collection has looked at it.
        value: tuple[Any, ...] = (key, [n]) if stays_tracked else (key, n)
        self.rows[key] = value
        self.model[key] = value

    @rule()
    def collect(self) -> None:
        # The youngest generation holds every row written since the last collection, and
        # a young collection untracks them as a full one would, at a fraction of the cost
        # inside a large test session.
        gc.collect(0)

    @rule()
    def settle(self) -> None:
        self.rows.settle()

    @rule(keys=st.lists(KEYS, min_size=1, max_size=6))
    def store_items(self, keys: list[str]) -> None:
        ids = [f"i{self.minted + at}" for at in range(len(keys))]
        self.minted += len(keys)
        first = self.ordinals.add(ids)
        for at, (key, item_id) in enumerate(zip(keys, ids, strict=True)):
            self.groups.add(key, first + at)
            self.filed.setdefault(key, []).append(item_id)

    @invariant()
    def reads_match_a_plain_dict(self) -> None:
        assert len(self.rows) == len(self.model)
        assert sorted(self.rows) == sorted(self.model)
        for key in KEY_NAMES:
            assert (key in self.rows) is (key in self.model)
            assert self.rows.get(key) is self.model.get(key)
        present = sorted(self.model)
        assert self.rows.values_of(present) == [self.model[k] for k in present]

    @invariant()
    def settled_rows_are_untracked(self) -> None:
        assert not any(gc.is_tracked(v) for v in self.rows._main.values())

    @invariant()
    def groups_match_lists(self) -> None:
        assert dict(self.groups.items()) == self.filed
        assert self.groups.get("nope") is None


TestUntrackedTables = UntrackedTables.TestCase
TestUntrackedTables.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
