"""What a command prints: one JSON document for machines, tables and lines for people.

Every command returns a `Result`: a JSON-ready mapping (amounts as decimal
strings with their currency, never floats; instants in ISO 8601), an exit code,
and optionally tables for people. `--json` prints the mapping alone on stdout.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from attrs import field, frozen

from settlement_core import Money
from settlement_core.money import amount_str

EXIT_OK = 0
EXIT_FINDINGS = 1  # the job ran and found something to look at (discrepancies, drift)
EXIT_USAGE = 2  # argparse's own code for a wrong command line
EXIT_INPUT = 3  # bad input, configuration or file; nothing was stored
EXIT_CONFLICT = 4  # another writer won a race; running the command again is safe
EXIT_FAILURE = 70  # anything unexpected (sysexits' EX_SOFTWARE)


@frozen
class Table:
    """Rows for people; `--json` carries the same data in the result's mapping."""

    title: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[str]]


@frozen
class Result:
    """A command's outcome."""

    data: Mapping[str, Any]
    code: int = EXIT_OK
    tables: tuple[Table, ...] = field(default=())


def money_json(m: Money) -> dict[str, str]:
    """{"amount": "12.30", "currency": "USD"}: exact, locale-free."""
    return {"amount": amount_str(m), "currency": m.currency.code}


def money_text(m: Money) -> str:
    """12.30 USD."""
    return f"{amount_str(m)} {m.currency.code}"


def jsonable(value: Any) -> Any:
    """Datetimes, enums and Money as JSON-ready values, recursively."""
    if isinstance(value, Money):
        return money_json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def emit(result: Result, as_json: bool, out: TextIO | None = None) -> None:
    """Print a result for a machine (`as_json`) or a person."""
    stream = out or sys.stdout
    if as_json:
        json.dump(jsonable(result.data), stream, indent=2, sort_keys=True)
        stream.write("\n")
        return
    for key, value in result.data.items():
        if not isinstance(value, list | tuple):
            stream.write(f"{key}: {_text(value)}\n")
    if result.tables:
        from rich.console import Console
        from rich.table import Table as RichTable

        console = Console(file=stream)
        for table in result.tables:
            if not table.rows:
                continue  # the lines above already said there is nothing
            shown = RichTable(title=table.title)
            for column in table.columns:
                shown.add_column(column)
            for row in table.rows:
                shown.add_row(*row)
            console.print(shown)


def emit_error(kind: str, message: str, code: int, as_json: bool) -> int:
    """Say what went wrong (stderr for people, a JSON object on stdout for machines)."""
    if as_json:
        json.dump({"error": kind, "message": message, "exit_code": code}, sys.stdout)
        sys.stdout.write("\n")
    sys.stderr.write(f"settlement: {kind}: {message}\n")
    return code


def _text(value: Any) -> str:
    if isinstance(value, Money):
        return money_text(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items()) or "-"
    converted = jsonable(value)
    return "-" if converted is None else str(converted)
