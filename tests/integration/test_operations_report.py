"""The operations report files: CSV that round-trips, a page that escapes what it shows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from settlement_adapters.bootstrap import in_memory
from settlement_adapters.channels import SimulatedBank
from settlement_adapters.operations_report import (
    POSITION_COLUMNS,
    SUMMARY_COLUMNS,
    page_html,
    positions_csv,
    summaries_csv,
    write_operations_report,
)
from settlement_core.model import OpenAccount
from settlement_core.money import money
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.operations import OperationsReport
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import TENANT, Marketplace


def _market() -> Marketplace:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        banks = [SimulatedBank(name=n, secret=b"s", clock=clock) for n in ("bank-a", "bank-b")]
        return in_memory(rules, clock=clock, fx=fx, channels=banks)

    market = Marketplace(build)
    for shop, channel in (("s1", "bank-a"), ("s2", "bank-a"), ("s3", "bank-b")):
        market.app.get_or_create_account(
            OpenAccount(tenant_id=TENANT, shop_id=shop, payout_channel=channel)
        )
    market.order("s1", "10.00")
    market.order("s2", "2.50")
    market.order("s3", "1000", "JPY")
    market.advance(days=1)
    market.run_jobs()
    market.app.prepare_release(market.clock.now())
    market.app.record_funding(TENANT, "bank-a", money("4.00", "USD"), "wire-1")
    return market


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _report() -> tuple[Marketplace, OperationsReport]:
    market = _market()
    return market, market.app.operations_report(TENANT)


class TestCsv:
    """The CSV files hold what the report says, in plain decimals."""

    def test_positions_say_what_to_fund_per_channel_and_currency(self) -> None:
        """Funding below the total leaves the difference to fund; JPY has no decimals."""
        _, report = _report()
        rows = _rows(positions_csv(report))
        assert tuple(rows[0]) == POSITION_COLUMNS
        by_lane = {(r["channel"], r["currency"]): r for r in rows}
        assert by_lane[("bank-a", "USD")]["awaiting_funding"] == "12.50"
        assert by_lane[("bank-a", "USD")]["free_funds"] == "4.00"
        assert by_lane[("bank-a", "USD")]["to_fund"] == "8.50"
        assert by_lane[("bank-b", "JPY")]["to_fund"] == "1000"

    def test_summaries_list_each_waiting_batch(self) -> None:
        """One row per summary, with its payout count and total."""
        _, report = _report()
        rows = _rows(summaries_csv(report))
        assert tuple(rows[0]) == SUMMARY_COLUMNS
        assert sorted((r["channel"], r["payouts"], r["total"], r["status"]) for r in rows) == [
            ("bank-a", "2", "12.50", "created"),
            ("bank-b", "1", "1000", "created"),
        ]


class TestPage:
    """The HTML page people read."""

    def test_page_shows_every_position_and_the_forecast(self) -> None:
        """Amounts appear on the page; the forecast section appears only when given."""
        market, report = _report()
        page = page_html(report)
        assert page.startswith("<!DOCTYPE html>") and "8.50" in page and "1000" in page
        assert "Funding forecast" not in page
        market.order("s1", "7.00")
        forecast = market.app.funding_forecast(TENANT, market.clock.now() + timedelta(days=2))
        assert "Funding forecast" in page_html(report, forecast)

    def test_page_escapes_tenant_and_channel_names(self) -> None:
        """Names come from hosts; markup in them is shown, never interpreted."""
        _, report = _report()
        hostile = OperationsReport(
            tenant_id="<script>alert(1)</script>",
            generated_at=report.generated_at,
            positions=report.positions,
            summaries=report.summaries,
        )
        page = page_html(hostile)
        assert "<script>" not in page and "&lt;script&gt;" in page


def test_files_are_written_side_by_side(tmp_path: Path) -> None:
    """Two CSV files and a page, named after the tenant and the time, in a new folder."""
    _, report = _report()
    files = write_operations_report(report, tmp_path / "reports")
    assert files.positions_csv.read_text() == positions_csv(report)
    assert files.summaries_csv.read_text() == summaries_csv(report)
    assert files.page_html.read_text() == page_html(report)
    assert files.page_html.name.startswith(f"operations-{TENANT}-")
