"""The settlement report a channel produces for reconciliation: one CSV row per submission."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from attrs import field, frozen

from settlement_core.errors import (
    InvalidAmount,
    InvalidIdentifier,
    InvalidTimestamp,
    ValidationError,
)
from settlement_core.ports import Outcome
from settlement_core.timestamps import require_aware

COLUMNS = (
    "idempotency_key",
    "payout_id",
    "amount_minor",
    "currency",
    "status",
    "submitted_at",
    "settled_at",
    "provider_ref",
)
REPORT_STATUSES = frozenset({Outcome.ACCEPTED, Outcome.PAID, Outcome.FAILED, Outcome.RETURNED})

_CURRENCY = re.compile(r"[A-Z]{3}")
# int() would also take "+5", " 5" and "1_000"; a report holds plain digits only.
_DIGITS = re.compile(r"[0-9]{1,19}")


def _utc(value: datetime) -> datetime:
    return require_aware(value, "report timestamp").astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


@frozen(kw_only=True)
class SettlementReportRow:
    """The channel's record of one submission; timestamps are held in UTC."""

    idempotency_key: str
    payout_id: str
    amount_minor: int
    currency: str
    status: Outcome
    submitted_at: datetime = field(converter=_utc)
    settled_at: datetime | None = field(converter=_utc_or_none)
    provider_ref: str

    def __attrs_post_init__(self) -> None:
        """Refuse rows no channel could have written."""
        for name in ("idempotency_key", "payout_id", "provider_ref"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InvalidIdentifier(f"{name} must be a non-empty string")
        if type(self.amount_minor) is not int or self.amount_minor <= 0:
            raise InvalidAmount(f"amount_minor must be a positive int, got {self.amount_minor!r}")
        if not isinstance(self.currency, str) or not _CURRENCY.fullmatch(self.currency):
            raise InvalidIdentifier(f"currency must be 3 uppercase letters, got {self.currency!r}")
        if self.status not in REPORT_STATUSES:
            raise ValidationError(f"status {self.status!r} does not belong in a report")
        # Only a submission still in flight has no settlement time.
        if (self.settled_at is None) != (self.status is Outcome.ACCEPTED):
            raise InvalidTimestamp(f"a {self.status} row must {_settled_rule(self.status)}")
        if self.settled_at is not None and self.settled_at < self.submitted_at:
            raise InvalidTimestamp("settled_at is before submitted_at")


def write_report(rows: Iterable[SettlementReportRow], path: Path) -> None:
    """Write `rows` as CSV with a header line, UTC ISO-8601 times and integer minor units."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row.idempotency_key,
                    row.payout_id,
                    str(row.amount_minor),
                    row.currency,
                    row.status.value,
                    _format_time(row.submitted_at),
                    "" if row.settled_at is None else _format_time(row.settled_at),
                    row.provider_ref,
                ]
            )


def read_report(path: Path) -> list[SettlementReportRow]:
    """The rows of a report written by `write_report`; a bad line raises naming its number."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            raise ValidationError(f"{path.name} line 1: expected header {','.join(COLUMNS)}")
        rows: list[SettlementReportRow] = []
        for record in reader:
            try:
                rows.append(_parse(record))
            except ValidationError as error:
                # Same error type, so callers can still tell a bad amount from a bad time.
                raise type(error)(f"{path.name} line {reader.line_num}: {error}") from error
        return rows


def _parse(record: list[str]) -> SettlementReportRow:
    if len(record) != len(COLUMNS):
        raise ValidationError(f"expected {len(COLUMNS)} fields, found {len(record)}")
    key, payout_id, amount, currency, status, submitted, settled, provider_ref = record
    if not _DIGITS.fullmatch(amount):
        raise InvalidAmount(f"amount_minor {amount!r} is not a whole number of minor units")
    try:
        outcome = Outcome(status)
    except ValueError:
        raise ValidationError(f"unknown status {status!r}") from None
    return SettlementReportRow(
        idempotency_key=key,
        payout_id=payout_id,
        amount_minor=int(amount),
        currency=currency,
        status=outcome,
        submitted_at=_parse_time(submitted, "submitted_at"),
        settled_at=_parse_time(settled, "settled_at") if settled else None,
        provider_ref=provider_ref,
    )


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidTimestamp(f"{what} {text!r} is not an ISO-8601 timestamp") from None
    return require_aware(value, what)


def _settled_rule(status: Outcome) -> str:
    return "have no settled_at" if status is Outcome.ACCEPTED else "have a settled_at"
