"""Settlement reports: row validation, CSV round trips and line-numbered read errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from attrs.exceptions import FrozenInstanceError

from settlement_adapters.channels.report import (
    COLUMNS,
    SettlementReportRow,
    read_report,
    write_report,
)
from settlement_core.errors import (
    InvalidAmount,
    InvalidIdentifier,
    InvalidTimestamp,
    ValidationError,
)
from settlement_core.ports import Outcome

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
HEADER = ",".join(COLUMNS)
GOOD_LINE = "k-1.1,p-1,1250,EUR,paid,2024-05-01T12:00:00Z,2024-05-01T12:30:00Z,bank-1"


def row(**changes: Any) -> SettlementReportRow:
    """A valid PAID row, with `changes` applied."""
    fields: dict[str, Any] = {
        "idempotency_key": "k-1.1",
        "payout_id": "p-1",
        "amount_minor": 1250,
        "currency": "EUR",
        "status": Outcome.PAID,
        "submitted_at": T0,
        "settled_at": T0 + timedelta(minutes=30),
        "provider_ref": "bank-1",
    }
    fields.update(changes)
    return SettlementReportRow(**fields)


def write_lines(path: Path, *lines: str) -> Path:
    """Write a raw report file, one line per argument."""
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


class TestRow:
    """A report row holds only what a channel could have written."""

    def test_valid_row_keeps_its_fields(self) -> None:
        """A paid row with a settlement time is accepted as given."""
        paid = row()
        assert paid.status is Outcome.PAID
        assert paid.amount_minor == 1250
        assert paid.settled_at == T0 + timedelta(minutes=30)

    def test_times_are_held_in_utc(self) -> None:
        """An instant given in +02:00 is stored as the same instant in UTC."""
        local = row(
            submitted_at=T0.astimezone(PLUS_TWO),
            settled_at=(T0 + timedelta(hours=1)).astimezone(PLUS_TWO),
        )
        assert local.submitted_at.utcoffset() == timedelta(0)
        assert local.submitted_at.tzinfo is UTC
        assert local.settled_at is not None and local.settled_at.tzinfo is UTC
        assert local.submitted_at.hour == 12
        assert local.settled_at == T0 + timedelta(hours=1)

    def test_accepted_row_has_no_settlement_time(self) -> None:
        """A submission still in flight has no settled_at."""
        assert row(status=Outcome.ACCEPTED, settled_at=None).settled_at is None

    @pytest.mark.parametrize("status", [Outcome.PAID, Outcome.FAILED, Outcome.RETURNED])
    def test_final_rows_may_settle_at_submission(self, status: Outcome) -> None:
        """A settlement at the very instant of submission is allowed."""
        assert row(status=status, settled_at=T0).settled_at == T0

    @pytest.mark.parametrize("name", ["idempotency_key", "payout_id", "provider_ref"])
    @pytest.mark.parametrize("value", ["", None, 7])
    def test_identifiers_must_be_non_empty_strings(self, name: str, value: object) -> None:
        """Empty or non-string identifiers are refused, naming the field."""
        with pytest.raises(InvalidIdentifier, match=name):
            row(**{name: value})

    @pytest.mark.parametrize("amount", [0, -1, 12.5, 1250.0, True, "1250", None])
    def test_amount_must_be_a_positive_int(self, amount: object) -> None:
        """Zero, negatives, floats, bools and strings are not minor units."""
        with pytest.raises(InvalidAmount):
            row(amount_minor=amount)

    @pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "", "E1R", None])
    def test_currency_must_be_three_uppercase_letters(self, currency: object) -> None:
        """Anything but an ISO-style three-letter code is refused."""
        with pytest.raises(InvalidIdentifier, match="currency"):
            row(currency=currency)

    @pytest.mark.parametrize("status", [Outcome.NOT_FOUND, Outcome.UNKNOWN])
    def test_query_only_statuses_do_not_belong_in_a_report(self, status: Outcome) -> None:
        """A channel reports what it has; 'not found' and 'unknown' are no such thing."""
        with pytest.raises(ValidationError, match="does not belong"):
            row(status=status, settled_at=None)

    def test_accepted_row_with_settlement_time_is_refused(self) -> None:
        """A settled submission is no longer merely accepted."""
        with pytest.raises(InvalidTimestamp, match="no settled_at"):
            row(status=Outcome.ACCEPTED)

    @pytest.mark.parametrize("status", [Outcome.PAID, Outcome.FAILED, Outcome.RETURNED])
    def test_final_row_without_settlement_time_is_refused(self, status: Outcome) -> None:
        """A paid, failed or returned row must say when."""
        with pytest.raises(InvalidTimestamp, match="have a settled_at"):
            row(status=status, settled_at=None)

    def test_settled_before_submitted_is_refused(self) -> None:
        """Settlement cannot precede submission."""
        with pytest.raises(InvalidTimestamp, match="before submitted_at"):
            row(settled_at=T0 - timedelta(microseconds=1))

    def test_settled_before_submitted_is_judged_across_time_zones(self) -> None:
        """13:00+02:00 is 11:00 UTC, so it precedes a 12:00 UTC submission."""
        with pytest.raises(InvalidTimestamp):
            row(settled_at=datetime(2024, 5, 1, 13, 0, tzinfo=PLUS_TWO))

    @pytest.mark.parametrize("name", ["submitted_at", "settled_at"])
    def test_naive_timestamps_are_refused(self, name: str) -> None:
        """A time without a time zone is ambiguous."""
        with pytest.raises(InvalidTimestamp):
            row(**{name: datetime(2024, 5, 1, 12, 30)})

    def test_non_datetime_timestamp_is_refused(self) -> None:
        """A string is not a timestamp, even an ISO-looking one."""
        with pytest.raises(InvalidTimestamp):
            row(submitted_at="2024-05-01T12:00:00Z")

    def test_rows_are_immutable(self) -> None:
        """A row cannot be changed after validation."""
        with pytest.raises(FrozenInstanceError):
            row().amount_minor = 1  # type: ignore[misc]


class TestRoundTrip:
    """What write_report writes, read_report reads back equal."""

    def test_rows_round_trip(self, tmp_path: Path) -> None:
        """Every status, odd characters and microseconds survive a write and a read."""
        rows = [
            row(),
            row(
                idempotency_key="k-2.1",
                payout_id="p-2",
                status=Outcome.ACCEPTED,
                settled_at=None,
                provider_ref='ref, with "quotes"',
            ),
            row(
                idempotency_key="k-3.2",
                payout_id="p-3",
                amount_minor=1,
                currency="JPY",
                status=Outcome.FAILED,
                submitted_at=T0 + timedelta(microseconds=123_456),
                settled_at=T0 + timedelta(days=2, microseconds=7),
            ),
            row(
                idempotency_key="k-4.1",
                payout_id="p-4",
                amount_minor=9_223_372_036_854_775_807,
                status=Outcome.RETURNED,
            ),
        ]
        path = tmp_path / "report.csv"
        write_report(rows, path)
        assert read_report(path) == rows

    def test_times_are_written_as_utc(self, tmp_path: Path) -> None:
        """A row given in +02:00 is written with a Z suffix and comes back equal, in UTC."""
        local = row(
            submitted_at=T0.astimezone(PLUS_TWO),
            settled_at=(T0 + timedelta(minutes=30)).astimezone(PLUS_TWO),
        )
        path = tmp_path / "report.csv"
        write_report([local], path)
        assert path.read_text(encoding="utf-8").splitlines() == [HEADER, GOOD_LINE]
        (back,) = read_report(path)
        assert back == local
        assert back.submitted_at.utcoffset() == timedelta(0)
        assert back.settled_at is not None and back.settled_at.utcoffset() == timedelta(0)

    def test_empty_report_has_only_a_header(self, tmp_path: Path) -> None:
        """No rows is a header line and reads back as no rows."""
        path = tmp_path / "empty.csv"
        write_report([], path)
        assert path.read_text(encoding="utf-8") == HEADER + "\n"
        assert read_report(path) == []

    def test_write_accepts_any_iterable(self, tmp_path: Path) -> None:
        """A generator of rows is written like a list."""
        path = tmp_path / "report.csv"
        write_report((r for r in [row()]), path)
        assert read_report(path) == [row()]

    def test_offsets_in_a_file_are_read_as_utc(self, tmp_path: Path) -> None:
        """A file written elsewhere with +02:00 offsets is read as the same instants in UTC."""
        path = write_lines(
            tmp_path / "r.csv",
            HEADER,
            "k-1.1,p-1,1250,EUR,paid,2024-05-01T14:00:00+02:00,2024-05-01T14:30:00+02:00,bank-1",
        )
        (back,) = read_report(path)
        assert back == row()
        assert back.submitted_at.tzinfo is UTC


class TestReadErrors:
    """A bad line is refused naming its line number, with the error type kept."""

    def test_good_file_reads(self, tmp_path: Path) -> None:
        """The reference line used below is itself valid."""
        assert read_report(write_lines(tmp_path / "r.csv", HEADER, GOOD_LINE)) == [row()]

    @pytest.mark.parametrize("amount", ["12.5", "+5", "-5", " 5", "1_000", "", "0", "1" * 20])
    def test_bad_amounts(self, tmp_path: Path, amount: str) -> None:
        """Only plain positive digits are an amount; InvalidAmount names line 3."""
        bad = GOOD_LINE.replace(",1250,", f",{amount},")
        path = write_lines(tmp_path / "r.csv", HEADER, GOOD_LINE, bad)
        with pytest.raises(InvalidAmount, match=r"^r\.csv line 3: "):
            read_report(path)

    @pytest.mark.parametrize(
        "submitted",
        ["yesterday", "2024-13-01T00:00:00Z", "2024-05-01T12:00:00", "", "2024-05-01"],
    )
    def test_bad_submission_times(self, tmp_path: Path, submitted: str) -> None:
        """Garbage, impossible dates and naive times are InvalidTimestamp on line 2."""
        bad = GOOD_LINE.replace("2024-05-01T12:00:00Z", submitted)
        path = write_lines(tmp_path / "r.csv", HEADER, bad)
        with pytest.raises(InvalidTimestamp, match=r"^r\.csv line 2: "):
            read_report(path)

    @pytest.mark.parametrize("settled", ["soon", "2024-05-01T12:30:00", "2024-05-01T11:00:00Z"])
    def test_bad_settlement_times(self, tmp_path: Path, settled: str) -> None:
        """A bad, naive or too early settlement time is InvalidTimestamp naming the line."""
        bad = GOOD_LINE.replace("2024-05-01T12:30:00Z", settled)
        path = write_lines(tmp_path / "r.csv", HEADER, bad)
        with pytest.raises(InvalidTimestamp, match=r"^r\.csv line 2: "):
            read_report(path)

    def test_paid_without_settlement_time_is_refused(self, tmp_path: Path) -> None:
        """An empty settled_at on a paid line breaks the row rule, on that line."""
        bad = GOOD_LINE.replace("2024-05-01T12:30:00Z", "")
        path = write_lines(tmp_path / "r.csv", HEADER, GOOD_LINE, GOOD_LINE, bad)
        with pytest.raises(InvalidTimestamp, match=r"^r\.csv line 4: "):
            read_report(path)

    @pytest.mark.parametrize("status", ["bogus", "PAID", "not_found", "unknown", ""])
    def test_bad_statuses(self, tmp_path: Path, status: str) -> None:
        """Unknown statuses and query-only ones are ValidationError naming the line."""
        bad = GOOD_LINE.replace(",paid,", f",{status},")
        path = write_lines(tmp_path / "r.csv", HEADER, bad)
        with pytest.raises(ValidationError, match=r"^r\.csv line 2: "):
            read_report(path)

    @pytest.mark.parametrize(
        "bad", [GOOD_LINE + ",extra", GOOD_LINE.rsplit(",", 1)[0], "", "just-one-field"]
    )
    def test_wrong_field_count(self, tmp_path: Path, bad: str) -> None:
        """Too many or too few fields is a ValidationError naming the line."""
        path = write_lines(tmp_path / "r.csv", HEADER, GOOD_LINE, bad)
        with pytest.raises(ValidationError, match=r"^r\.csv line 3: .*fields"):
            read_report(path)

    @pytest.mark.parametrize("currency", ["eur", "EURO", ""])
    def test_bad_currency(self, tmp_path: Path, currency: str) -> None:
        """A bad currency keeps its InvalidIdentifier type."""
        bad = GOOD_LINE.replace(",EUR,", f",{currency},")
        path = write_lines(tmp_path / "r.csv", HEADER, bad)
        with pytest.raises(InvalidIdentifier, match=r"^r\.csv line 2: .*currency"):
            read_report(path)

    def test_empty_identifier(self, tmp_path: Path) -> None:
        """An empty provider_ref is InvalidIdentifier on its line."""
        bad = GOOD_LINE.replace(",bank-1", ",")
        path = write_lines(tmp_path / "r.csv", HEADER, bad)
        with pytest.raises(InvalidIdentifier, match=r"^r\.csv line 2: .*provider_ref"):
            read_report(path)

    @pytest.mark.parametrize(
        "header",
        [
            HEADER.replace("payout_id", "payout"),
            ",".join(reversed(COLUMNS)),
            HEADER + ",extra",
            GOOD_LINE,
        ],
    )
    def test_wrong_header(self, tmp_path: Path, header: str) -> None:
        """A file not starting with the exact header is refused at line 1."""
        path = write_lines(tmp_path / "r.csv", header, GOOD_LINE)
        with pytest.raises(ValidationError, match=r"^r\.csv line 1: expected header"):
            read_report(path)

    def test_empty_file_has_no_header(self, tmp_path: Path) -> None:
        """A file with nothing in it is missing its header."""
        path = tmp_path / "r.csv"
        path.write_text("", encoding="utf-8")
        with pytest.raises(ValidationError, match="line 1"):
            read_report(path)

    def test_error_chains_the_original(self, tmp_path: Path) -> None:
        """The line-numbered error keeps the original as its cause."""
        bad = GOOD_LINE.replace(",1250,", ",0,")
        path = write_lines(tmp_path / "r.csv", HEADER, bad)
        with pytest.raises(InvalidAmount) as caught:
            read_report(path)
        assert isinstance(caught.value.__cause__, InvalidAmount)
        assert "line" not in str(caught.value.__cause__)
