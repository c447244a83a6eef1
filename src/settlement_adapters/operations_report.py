"""The operations report as files: what to fund per channel, as CSV and a readable page (R-REL-1).

Two CSV files (channel positions, and the summaries waiting for funding or
release) for spreadsheets and scripts, and one self-contained HTML page for
people. Amounts are plain decimals at the currency's exponent with the
currency in its own column, so nothing depends on a locale.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path

from attrs import frozen

from settlement_core.model import ReleaseSummary
from settlement_core.money import amount_str
from settlement_core.services.operations import ChannelPosition, ForecastLine, OperationsReport

POSITION_COLUMNS = (
    "channel",
    "currency",
    "awaiting_funding",
    "awaiting_release",
    "free_funds",
    "reserved",
    "to_fund",
)
SUMMARY_COLUMNS = ("summary_id", "channel", "currency", "status", "payouts", "total", "created_at")
FORECAST_COLUMNS = (
    "channel",
    "currency",
    "accounts",
    "due_statements",
    "awaiting_release",
    "free_funds",
    "to_fund",
)


@frozen
class OperationsFiles:
    """Where the report was written."""

    positions_csv: Path
    summaries_csv: Path
    page_html: Path


def positions_csv(report: OperationsReport) -> str:
    """One row per channel and currency: what waits, what the channel holds, what to send."""
    return _csv(POSITION_COLUMNS, [_position_row(p) for p in report.positions])


def summaries_csv(report: OperationsReport) -> str:
    """One row per release summary waiting for funding or release."""
    return _csv(SUMMARY_COLUMNS, [_summary_row(s) for s in report.summaries])


def page_html(report: OperationsReport, forecast: Sequence[ForecastLine] = ()) -> str:
    """A self-contained page: channel positions, summaries, and the forecast if given."""
    when = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        _table("What to fund", POSITION_COLUMNS, [_position_row(p) for p in report.positions]),
        _table("Release summaries", SUMMARY_COLUMNS, [_summary_row(s) for s in report.summaries]),
    ]
    if forecast:
        sections.append(
            _table("Funding forecast", FORECAST_COLUMNS, [_forecast_row(f) for f in forecast])
        )
    title = f"Operations report: {html.escape(report.tenant_id)}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>Generated {when}.</p>{''.join(sections)}</body></html>\n"
    )


def _position_row(p: ChannelPosition) -> tuple[str, ...]:
    amounts = (p.awaiting_funding, p.awaiting_release, p.free_funds, p.reserved, p.to_fund)
    return (p.channel, p.currency, *map(amount_str, amounts))


def _summary_row(s: ReleaseSummary) -> tuple[str, ...]:
    created = s.created_at.astimezone(UTC).isoformat()
    size = str(len(s.payout_ids))
    return (s.id, s.channel, s.currency, s.status.value, size, amount_str(s.total), created)


def _forecast_row(f: ForecastLine) -> tuple[str, ...]:
    amounts = (f.due_statements, f.awaiting_release, f.free_funds, f.to_fund)
    return (f.channel, f.currency, str(f.accounts), *map(amount_str, amounts))


def write_operations_report(
    report: OperationsReport, folder: Path, forecast: Sequence[ForecastLine] = ()
) -> OperationsFiles:
    """Write the two CSV files and the page into `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = (
        f"operations-{_safe(report.tenant_id)}-{report.generated_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    )
    files = OperationsFiles(
        folder / f"{stem}-channels.csv",
        folder / f"{stem}-summaries.csv",
        folder / f"{stem}.html",
    )
    files.positions_csv.write_text(positions_csv(report), encoding="utf-8")
    files.summaries_csv.write_text(summaries_csv(report), encoding="utf-8")
    files.page_html.write_text(page_html(report, forecast), encoding="utf-8")
    return files


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:2em}"
    "th,td{border:1px solid #ccc;padding:.3em .6em}td.n{text-align:right}"
    "th{background:#f3f3f3;text-align:left}"
)


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h.replace('_', ' '))}</th>" for h in header)
    if not rows:
        body = f"<tr><td colspan='{len(header)}'>nothing</td></tr>"
    else:
        body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _cell(value: str) -> str:
    numeric = value.replace(".", "", 1).lstrip("-").isdigit()
    return (
        f"<td class='n'>{html.escape(value)}</td>" if numeric else f"<td>{html.escape(value)}</td>"
    )


def _safe(name: str) -> str:
    # Tenant ids are free text; a file name keeps only what every file system takes.
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64]
