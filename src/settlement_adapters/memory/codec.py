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
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

A = TypeVar("A")

Row = tuple[Any, ...]


def _enum_of(hint: Any) -> type[enum.Enum] | None:
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return candidate
    return None


class RowCodec(Generic[A]):
    """Turns one attrs aggregate type into rows and back; `events` is not stored."""

    def __init__(self, cls: type[A]) -> None:
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
            kind = _enum_of(hints[name])
            if kind is None:
                encode.append(f"obj.{name}")
                decode.append(f"    obj.{name} = row[{at}]")
                continue
            members = f"_m{at}"
            namespace[members] = {member.value: member for member in kind}
            encode.append(f"(None if obj.{name} is None else obj.{name}.value)")
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
