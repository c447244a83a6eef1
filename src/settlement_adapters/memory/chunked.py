"""Big in-memory tables and indexes laid out so the garbage collector has nothing to walk.

Rows are untracked tuples (see codec.py), but a dict holding a million of them
is tracked again by every insert of a fresh tuple, and a full collection then
visits each of its entries. Per-key lists of ids are tracked objects of their
own: one per account and one per statement. Both made the collector's work grow
with the store, so that ingest and the jobs slowed per item as the store filled.
Here rows sit in chunks of a few thousand behind a dict of ints (never tracked),
and per-key ids are ints packed into bytearrays (objects the collector does not know).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K")

Row = tuple[Any, ...]

_CHUNK_ROWS = 4096  # a fresh chunk is walked until its first full collection: keep it small
_SHIFT = 32  # an item's ordinal is its id chunk << _SHIFT | its offset in the chunk
_OFFSET = (1 << _SHIFT) - 1
_PACK = struct.Struct("q").pack  # native order, as memoryview.cast("q") reads it


class ChunkedRows(MutableMapping[str, Row]):
    """Rows by id, kept in insertion order in chunks of at most 4,096.

    Writing a row re-tracks only its chunk; the map from id to chunk holds ints
    and is never tracked at all. Rows are never removed (no store deletes them).
    """

    __slots__ = ("_chunks", "_tail", "_tail_no", "_where")

    def __init__(self) -> None:
        self._where: dict[str, int] = {}
        self._chunks: list[dict[str, Row]] = []
        self._tail: dict[str, Row] = {}
        self._tail_no = -1  # one int object shared by every id of the chunk

    def __getitem__(self, row_id: str) -> Row:
        """The row with this id (KeyError if none)."""
        return self._chunks[self._where[row_id]][row_id]

    def get(self, row_id: str, default: Any = None) -> Any:
        """The row with this id, or `default`."""
        at = self._where.get(row_id)
        return default if at is None else self._chunks[at][row_id]

    def __contains__(self, row_id: object) -> bool:
        """Whether a row has this id."""
        return row_id in self._where

    def __len__(self) -> int:
        """How many rows there are."""
        return len(self._where)

    def __iter__(self) -> Iterator[str]:
        """The ids, in the order their rows were first written."""
        return iter(list(self._where))

    def __setitem__(self, row_id: str, row: Row) -> None:
        """Write a row: in place if the id has one, else at the end."""
        at = self._where.get(row_id)
        if at is not None:
            self._chunks[at][row_id] = row
            return
        if len(self._tail) >= _CHUNK_ROWS or self._tail_no < 0:
            self._tail = {}
            self._chunks.append(self._tail)
            self._tail_no = len(self._chunks) - 1
        # The row goes in before its locator: a reader (who takes no lock) never
        # finds a locator without its row.
        self._tail[row_id] = row
        self._where[row_id] = self._tail_no

    def __delitem__(self, row_id: str) -> None:
        """Refused: stored rows are replaced, never removed."""
        raise TypeError("rows are never removed from a store")

    def rows_of(self, row_ids: Iterable[str]) -> list[Row]:
        """The rows with these ids, in that order (KeyError for an unknown id)."""
        chunks, where = self._chunks, self._where
        return [chunks[where[i]][i] for i in row_ids]


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

    def count(self, key: K) -> int:
        """How many ids are filed under a key."""
        found = self._by_key.get(key)
        return 0 if found is None else len(found) // 8

    def __contains__(self, key: object) -> bool:
        """Whether any id is filed under a key."""
        return key in self._by_key

    def __iter__(self) -> Iterator[K]:
        """The keys."""
        return iter(list(self._by_key))

    def __len__(self) -> int:
        """How many keys have ids."""
        return len(self._by_key)
