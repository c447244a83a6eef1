"""Big in-memory tables and indexes laid out so the garbage collector has nothing to walk.

Rows are untracked tuples (see codec.py), but a dict holding a million of them
is tracked again by every insert of a fresh tuple, and each collection until
the next full one then visits every entry. Per-key lists of ids are tracked
objects of their own: one per account and one per statement. Both made the
collector's work grow with the store, so ingest and the jobs slowed per item as
the store filled. Here a dict takes a row only once the collector has
untracked it (UntrackedDict), and per-key ids are ints packed into bytearrays,
which the collector does not know about (ItemGroups)."""

from __future__ import annotations

import gc
import struct
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_SETTLE_AT = 256

_SHIFT = 32  # an item's ordinal is its id chunk << _SHIFT | its offset in the chunk
_OFFSET = (1 << _SHIFT) - 1
_PACK = struct.Struct("q").pack  # native order, as memoryview.cast("q") reads it


class UntrackedDict(MutableMapping[K, V], Generic[K, V]):
    """A dict the collector stops walking: a value still tracked waits in a small overlay.

    A dict holding only untracked values (rows: see codec.py) is untracked after
    a full collection, and stays so as long as only untracked values go in. A
    fresh tuple is tracked until a collection has looked at it, so a write
    parks it in `fresh`, and `settle` (at a commit, once a few hundred wait)
    moves what has been untracked since into the main dict. Values are never
    falsy (rows, non-empty tuples), so a read is one lookup in each dict, no
    sentinel compared.
    """

    __slots__ = ("_fresh", "_main", "_settle_at")

    def __init__(self) -> None:
        self._main: dict[K, V] = {}
        self._fresh: dict[K, V] = {}
        self._settle_at = _SETTLE_AT

    def __getitem__(self, key: K) -> V:
        """The value under a key (KeyError if none)."""
        return self._fresh.get(key) or self._main[key]

    def get(self, key: K, default: Any = None) -> Any:
        """The value under a key, or `default`."""
        return self._fresh.get(key) or self._main.get(key, default)

    def __contains__(self, key: object) -> bool:
        """Whether a key is present."""
        return key in self._main or key in self._fresh

    def __len__(self) -> int:
        """How many keys there are."""
        main = self._main
        return len(main) + sum(1 for key in list(self._fresh) if key not in main)

    def __iter__(self) -> Iterator[K]:
        """The keys: those settled in the order they settled, then those still waiting."""
        main = self._main
        return iter([*main, *(key for key in list(self._fresh) if key not in main)])

    def __setitem__(self, key: K, value: V) -> None:
        """Write a value (into the overlay, until `settle`)."""
        if not value:
            raise ValueError("an UntrackedDict holds no falsy value")
        self._fresh[key] = value

    def __delitem__(self, key: K) -> None:
        """Refused: stored rows and index entries are replaced, never removed."""
        raise TypeError("entries are never removed from a store")

    def settle(self) -> None:
        """Move into the main dict the values the collector has untracked since written."""
        fresh, main = self._fresh, self._main
        if len(fresh) < self._settle_at:
            return  # small commits (one item each) settle once a few hundred rows wait
        # Into main before out of the overlay: a reader (who takes no lock) finds a
        # value in one or the other all along.
        if not any(map(gc.is_tracked, fresh.values())):
            main.update(fresh)
            fresh.clear()
            self._settle_at = _SETTLE_AT
            return
        tracked = gc.is_tracked
        for key, value in list(fresh.items()):
            if not tracked(value):
                main[key] = value
                del fresh[key]
        # Rows the collector has not looked at yet stay: the next attempt waits until
        # as many more have come, so one-row commits do not each walk the overlay.
        self._settle_at = max(_SETTLE_AT, 2 * len(fresh))

    def values_of(self, keys: Iterable[K]) -> list[V]:
        """The values under these keys, in that order (KeyError for an unknown key)."""
        fresh, main = self._fresh, self._main
        if not fresh:  # a job's later batches: one lookup a key
            return [main[key] for key in keys]
        return [fresh.get(key) or main[key] for key in keys]


class ItemOrdinals:
    """Every stored item id under an int, so the per-key indexes can hold ints."""

    __slots__ = ("_chunks",)

    def __init__(self) -> None:
        self._chunks: list[tuple[str, ...]] = []  # one tuple of ids per commit: untracked

    def add(self, ids: Sequence[str]) -> int:
        """Number one commit's new ids; the first gets the int returned, the rest follow it."""
        self._chunks.append(tuple(ids))
        return (len(self._chunks) - 1) << _SHIFT

    def ids(self, packed: bytes | bytearray) -> list[str]:
        """The ids under the ints packed in `packed`, in that order."""
        chunks = self._chunks
        # A copy first: a view of the bytearray itself would stop a writer appending to it.
        ordinals = memoryview(bytes(packed)).cast("q")
        return [chunks[at >> _SHIFT][at & _OFFSET] for at in ordinals]


class ItemGroups(Mapping[K, list[str]], Generic[K]):
    """Item ids per key (an account, a statement, a run), in the order they were stored."""

    __slots__ = ("_by_key", "_ordinals")

    def __init__(self, ordinals: ItemOrdinals) -> None:
        self._ordinals = ordinals
        # Bytearrays are not objects the collector tracks (arrays are), so neither is
        # this dict once a full collection has seen it.
        self._by_key: dict[K, bytearray] = {}

    def add(self, key: K, ordinal: int) -> None:
        """File one stored item under a key."""
        found = self._by_key.get(key)
        if found is None:
            self._by_key[key] = bytearray(_PACK(ordinal))
        else:
            found += _PACK(ordinal)

    def __getitem__(self, key: K) -> list[str]:
        """The ids filed under a key (KeyError if none)."""
        return self._ordinals.ids(self._by_key[key])

    def get(self, key: K, default: Any = None) -> Any:
        """The ids filed under a key, or `default`."""
        found = self._by_key.get(key)
        return default if found is None else self._ordinals.ids(found)

    def __contains__(self, key: object) -> bool:
        """Whether any id is filed under a key."""
        return key in self._by_key

    def __iter__(self) -> Iterator[K]:
        """The keys."""
        return iter(list(self._by_key))

    def __len__(self) -> int:
        """How many keys have ids."""
        return len(self._by_key)
