"""Billing items from a CSV or JSON-lines file, as record commands.

Columns (CSV header, or JSON keys): shop_id, key, order_id, kind (sale, refund,
adjustment, fee), amount (a plain decimal such as "12.30"; in JSON a string or
a number, read exactly, never through a float), currency, occurred_at (ISO 8601
with its UTC offset); optional: tenant_id (else the default tenant), basis
(delta or order_total), run_id. Every row is read and checked before anything
is stored, and a mistake names its file and line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from settlement_core import AmountBasis, ItemKind, RecordBillingItem, money
from settlement_core.errors import SettlementError, ValidationError

REQUIRED = ("shop_id", "key", "order_id", "kind", "amount", "currency", "occurred_at")
OPTIONAL = ("tenant_id", "basis", "run_id")
FORMATS = ("csv", "jsonl")

E = TypeVar("E", ItemKind, AmountBasis)


def read_billing_file(
    text: str, file_format: str, default_tenant: str | None, source: str
) -> list[RecordBillingItem]:
    """Every row of the file as a RecordBillingItem; ValidationError names the bad line."""
    if file_format not in FORMATS:
        raise ValidationError(f"unknown format {file_format!r}; use one of {', '.join(FORMATS)}")
    rows = _csv_rows(text) if file_format == "csv" else _jsonl_rows(text, source)
    commands = []
    for line, row in rows:
        try:
            commands.append(_command(row, default_tenant))
        except SettlementError as exc:
            raise ValidationError(f"{source}:{line}: {exc}") from exc
    return commands


def guess_format(path: Path) -> str:
    """csv for *.csv, else jsonl (*.jsonl, *.ndjson, standard input)."""
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _csv_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise ValidationError(f"the CSV header lacks {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if v not in (None, "")}


def _jsonl_rows(text: str, source: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            # Decimal, not float: 0.1 in a file is exactly one tenth.
            row = json.loads(raw, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{source}:{line}: not JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise ValidationError(f"{source}:{line}: each line must be a JSON object")
        yield line, row


def _command(row: Mapping[str, Any], default_tenant: str | None) -> RecordBillingItem:
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(unknown)}")
    missing = [c for c in REQUIRED if c not in row]
    if missing:
        raise ValidationError(f"missing {', '.join(missing)}")
    tenant = row.get("tenant_id", default_tenant)
    if tenant is None:
        raise ValidationError("no tenant_id in the row and no --tenant given")
    amount = row["amount"]
    if isinstance(amount, Decimal | str | int) and not isinstance(amount, bool):
        value = money(str(amount) if isinstance(amount, Decimal) else amount, row["currency"])
    else:
        raise ValidationError(f"amount must be a decimal, got {amount!r}")
    return RecordBillingItem(
        tenant_id=tenant,
        shop_id=row["shop_id"],
        key=row["key"],
        order_id=row["order_id"],
        kind=_enum(ItemKind, row["kind"], "kind"),
        amount=value,
        occurred_at=parse_instant(row["occurred_at"], "occurred_at"),
        basis=_enum(AmountBasis, row.get("basis", "delta"), "basis"),
        run_id=row.get("run_id"),
    )


def parse_instant(text: object, what: str) -> datetime:
    """An ISO 8601 instant with its offset ("2025-06-01T09:00:00+02:00", "...Z")."""
    if not isinstance(text, str):
        raise ValidationError(f"{what} must be an ISO 8601 string, got {text!r}")
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{what} is not an ISO 8601 instant: {text!r}") from exc
    if instant.tzinfo is None:
        raise ValidationError(f"{what} needs a UTC offset (e.g. Z or +02:00): {text!r}")
    return instant


def _enum(kind: type[E], value: object, what: str) -> E:
    try:
        return kind(str(value))
    except ValueError as exc:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationError(f"{what} must be one of {allowed}, got {value!r}") from exc
