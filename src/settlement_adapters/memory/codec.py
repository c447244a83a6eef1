"""Aggregates as rows: tuples of plain values the garbage collector does not walk.

A committed billing item kept as an object costs every full collection a visit
to each of its fields; a million of them made the collector the largest cost
of ingest and of the jobs. A tuple of strings, numbers, datetimes and None is
untracked after the collector's first look, so the store keeps items as such
rows (enum members become their values) and builds an object when one is read,
as a database hands out rows that are mapped back to aggregates.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import attrs

from settlement_adapters.memory.untracked import UntrackedDict

A = TypeVar("A")
K = TypeVar("K")
V = TypeVar("V")

Row = tuple[Any, ...]


def _enum_of(hint: Any) -> type[enum.Enum] | None:
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return candidate
    return None


def _pairs(mapping: Mapping[Any, Any]) -> tuple[tuple[Any, Any], ...]:
    return tuple(sorted(mapping.items())) if mapping else ()


class Interned(Generic[V]):
    """Equal immutable values under one small int, so a row holds the int, not an object.

    A statement's period and rule are attrs objects: kept in its row they would
    keep the row tracked by the collector. Each value is kept once (the first
    object seen with it) and found again by identity, or by value when an equal
    object comes along.
    """

    __slots__ = ("_by_id", "_by_value", "values")

    def __init__(self) -> None:
        self.values: list[V] = []
        self._by_id: dict[int, int] = {}  # ids of the kept objects only: they never die
        self._by_value: dict[V, int] = {}

    def code(self, value: V) -> int:
        """The code of a value, given one on first use (call under the owner's lock)."""
        code = self._by_id.get(id(value))
        if code is None:
            code = self._by_value.get(value)
            if code is None:
                code = len(self.values)
                self.values.append(value)
                self._by_value[value] = code
                self._by_id[id(value)] = code
        return code


# How one field is stored and read back: (to its row value, from its row value).
Conversion = tuple[Callable[[Any], Any], Callable[[Any], Any]]


class RowCodec(Generic[A]):
    """Turns one attrs aggregate type into rows and back; `events` is not stored.

    Fields named in `interned` are stored as codes of that table (see Interned);
    fields named in `converted` go through their own pair of functions (values
    nested in a field, as tuples of plain values).
    """

    def __init__(
        self,
        cls: type[A],
        interned: Mapping[str, Interned[Any]] | None = None,
        converted: Mapping[str, Conversion] | None = None,
    ) -> None:
        hints = typing.get_type_hints(cls)
        fields = attrs.fields(cls)  # type: ignore[arg-type]
        names = tuple(f.name for f in fields if f.name != "events")
        if not all(name.isidentifier() for name in names):
            raise TypeError(f"{cls.__name__} has a field that is not an identifier")
        self.names = names
        self.cls = cls
        namespace: dict[str, Any] = {"new": cls.__new__, "cls": cls}
        encode, decode = [], []
        for at, name in enumerate(names):
            conversion = (converted or {}).get(name)
            if conversion is not None:
                namespace[f"_to{at}"], namespace[f"_from{at}"] = conversion
                encode.append(f"_to{at}(obj.{name})")
                decode.append(f"    obj.{name} = _from{at}(row[{at}])")
                continue
            table = (interned or {}).get(name)
            if table is not None:
                namespace[f"_c{at}"], namespace[f"_t{at}"] = table.code, table.values
                encode.append(f"_c{at}(obj.{name})")
                decode.append(f"    obj.{name} = _t{at}[row[{at}]]")
                continue
            if typing.get_origin(hints[name]) in (Mapping, dict):
                # Any dict, even an empty one, keeps its row tracked: sorted pairs do not.
                namespace["_pairs"] = _pairs
                encode.append(f"_pairs(obj.{name})")
                decode.append(f"    obj.{name} = dict(row[{at}])")
                continue
            kind = _enum_of(hints[name])
            if kind is None:
                encode.append(f"obj.{name}")
                decode.append(f"    obj.{name} = row[{at}]")
                continue
            members, values = f"_m{at}", f"_v{at}"
            namespace[members] = {member.value: member for member in kind}
            # A dict lookup: an enum's `.value` is a Python-level property, slow in bulk.
            namespace[values] = {member: member.value for member in kind} | {None: None}
            encode.append(f"{values}[obj.{name}]")
            decode.append(f"    value = row[{at}]")
            decode.append(f"    obj.{name} = None if value is None else {members}[value]")
        source = "\n".join(
            [
                "def encode(obj):",
                f"    return ({', '.join(encode)},)",
                "def decode(row):",
                "    obj = new(cls)",
                *decode,
                "    obj.events = []",
                "    return obj",
            ]
        )
        exec(compile(source, f"<memory rows of {cls.__name__}>", "exec"), namespace)
        self.row: Callable[[A], Row] = namespace["encode"]
        self.object: Callable[[Row], A] = namespace["decode"]

    def at(self, name: str) -> int:
        """The position of a field in the rows."""
        return self.names.index(name)


class RowTable(Generic[A]):
    """A table of one aggregate type kept as rows; every read builds a fresh object.

    Reads hand out objects of their own, so a unit of work needs no copy of its
    own, and what the table holds stays untracked by the collector.
    """

    __slots__ = ("codec", "rows", "version_at")

    def __init__(self, codec: RowCodec[A]) -> None:
        self.codec = codec
        self.rows: UntrackedDict[str, Row] = UntrackedDict()
        self.version_at = codec.at("version")

    def __contains__(self, obj_id: object) -> bool:
        """Whether a row has this id."""
        return obj_id in self.rows

    def __len__(self) -> int:
        """How many rows there are."""
        return len(self.rows)

    def __iter__(self) -> Iterator[str]:
        """The ids of the rows."""
        return iter(self.rows)

    def get(self, obj_id: str) -> A | None:
        """A fresh object of the row with this id, or None."""
        row = self.rows.get(obj_id)
        return None if row is None else self.codec.object(row)

    def __getitem__(self, obj_id: str) -> A:
        """A fresh object of the row with this id (KeyError if none)."""
        return self.codec.object(self.rows[obj_id])

    def put(self, obj: A, row: Row | None = None) -> None:
        """Store an object (or its row, already encoded) under its id."""
        self.rows[obj.id] = self.codec.row(obj) if row is None else row  # type: ignore[attr-defined]


class PairIndex(Generic[K, V]):
    """A map from (first, second) to a value, kept as a dict of dicts.

    A dict keyed by tuples holds one more object per entry for the collector to
    visit; a dict of strings to strings (or numbers) is not tracked at all.
    """

    __slots__ = ("_by_first",)

    def __init__(self) -> None:
        self._by_first: dict[K, dict[str, V]] = {}

    def get(self, first: K, second: str) -> V | None:
        """The value under (first, second), or None."""
        inner = self._by_first.get(first)
        return None if inner is None else inner.get(second)

    def has(self, first: K, second: str) -> bool:
        """Whether (first, second) is present."""
        inner = self._by_first.get(first)
        return inner is not None and second in inner

    def __contains__(self, key: object) -> bool:
        """Whether a (first, second) pair is present."""
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        inner = self._by_first.get(key[0])
        return inner is not None and key[1] in inner

    def inner(self, first: K) -> dict[str, V]:
        """The values under `first`, by second (created empty if missing), to update in place."""
        inner = self._by_first.get(first)
        if inner is None:
            inner = self._by_first[first] = {}
        return inner

    def put(self, first: K, second: str, value: V) -> None:
        """Set the value under (first, second)."""
        inner = self._by_first.get(first)
        if inner is None:
            inner = self._by_first[first] = {}
        inner[second] = value
