"""The example order sources: a drop folder of CSV / JSON-lines files, a table elsewhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
)

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sources import DropFolderSource, SqlTableSource
from settlement_core.errors import SourceUnavailable
from settlement_core.intake import FieldKind, FieldMapping, FieldSpec
from settlement_core.model import OpenAccount
from settlement_core.ports import ItemFilter
from settlement_core.rules import Cycle, PayoutRule, RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock

T0 = datetime(2025, 3, 3, tzinfo=UTC)
MAPPING = FieldMapping(
    {
        "order_id": FieldSpec("order_no"),
        "shop_id": FieldSpec("seller"),
        "currency": FieldSpec("ccy"),
        "amount": FieldSpec("pay_amount", FieldKind.DECIMAL),
        "occurred_at": FieldSpec("paid_at", FieldKind.TIMESTAMP),
    }
)


def _app(clock: ManualClock) -> Settlement:
    rules = RuleEngine(default_rule_id="daily")
    rules.define(PayoutRule(rule_id="daily", cycle=Cycle.daily()))
    app = bootstrap("memory://", rules, clock=clock)
    app.get_or_create_account(OpenAccount(tenant_id="t", shop_id="s1"))
    return app


def _amounts(app: Settlement) -> dict[str, int]:
    items = app.query_items(ItemFilter(tenant_id="t"), limit=100).items
    return {i.key: i.amount_minor for i in items}


class TestDropFolder:
    """CSV and JSON-lines files, read exactly, selected by change time."""

    def test_csv_and_jsonl_orders_are_booked_once(self, tmp_path: Path) -> None:
        """Both formats, JSON numbers as exact decimals, re-collecting books nothing new."""
        at = (T0 + timedelta(seconds=10)).isoformat()
        (tmp_path / "a.csv").write_text(
            "order_no,seller,ccy,pay_amount,paid_at,changed_at,buyer\n"
            f"o1,s1,USD,19.90,{at},{at},someone\n"
        )
        (tmp_path / "b.jsonl").write_text(
            json.dumps(
                {"order_no": "o2", "seller": "s1", "ccy": "USD", "paid_at": at, "changed_at": at}
            )[:-1]
            + ', "pay_amount": 0.10}\n'
        )
        (tmp_path / "c.tmp").write_text("half written")
        clock = ManualClock(T0 + timedelta(minutes=3))
        app = _app(clock)
        source = DropFolderSource("drop", "t", tmp_path)
        first = app.collect(source, MAPPING, clock.now(), start=T0)
        app.collect(source, MAPPING, clock.now(), start=T0)
        assert first.recorded == 2 and first.rejected == ()
        assert _amounts(app) == {"drop:o1:order": 1990, "drop:o2:order": 10}

    def test_json_numbers_are_decimals(self, tmp_path: Path) -> None:
        """parse_float=Decimal: 0.1 stays 0.1."""
        (tmp_path / "x.jsonl").write_text('{"changed_at": "2025-03-03T00:00:00+00:00", "v": 0.1}\n')
        [record] = DropFolderSource("d", "t", tmp_path).fetch(T0, T0 + timedelta(minutes=1))
        assert record.fields["v"] == Decimal("0.1")

    def test_a_missing_folder_or_bad_change_time_makes_the_source_unavailable(
        self, tmp_path: Path
    ) -> None:
        """The collector keeps its checkpoint instead of losing the record."""
        with pytest.raises(SourceUnavailable):
            DropFolderSource("d", "t", tmp_path / "nope").fetch(T0, T0)
        (tmp_path / "bad.csv").write_text("changed_at\n2025-03-03T00:00:00\n")
        with pytest.raises(SourceUnavailable, match="offset"):
            DropFolderSource("d", "t", tmp_path).fetch(T0, T0)


class TestSqlTable:
    """A table in the host's own order database, read by change time."""

    def _orders(self, tmp_path: Path) -> tuple[Table, Engine]:
        engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
        table = Table(
            "orders",
            MetaData(),
            Column("order_no", String(32), primary_key=True),
            Column("seller", String(32)),
            Column("ccy", String(3)),
            Column("pay_amount", Numeric(12, 2)),
            Column("paid_at", DateTime()),
            Column("updated_at", DateTime()),
            Column("buyer_phone", String(32)),
        )
        table.metadata.create_all(engine)
        naive = (T0 + timedelta(seconds=20)).replace(tzinfo=None)
        with engine.begin() as conn:
            conn.execute(
                insert(table),
                [
                    {
                        "order_no": f"o{n}",
                        "seller": "s1",
                        "ccy": "USD",
                        "pay_amount": Decimal("2.50"),
                        "paid_at": naive,
                        "updated_at": naive + timedelta(minutes=n),
                        "buyer_phone": "x",
                    }
                    for n in range(3)
                ],
            )
        return table, engine

    def test_rows_are_collected_window_by_window(self, tmp_path: Path) -> None:
        """Naive timestamps read as UTC; only the named columns are read; each order once."""
        _, engine = self._orders(tmp_path)
        clock = ManualClock(T0 + timedelta(minutes=5))
        app = _app(clock)
        source = SqlTableSource(
            "shop-db",
            "t",
            engine,
            "orders",
            columns=["order_no", "seller", "ccy", "pay_amount", "paid_at"],
        )
        report = app.collect(source, MAPPING, clock.now(), start=T0)
        assert report.recorded == 3 and report.windows == 5
        assert _amounts(app) == {f"shop-db:o{n}:order": 250 for n in range(3)}
        [row] = source.fetch(T0, T0 + timedelta(minutes=1))
        assert set(row.fields) == {
            "order_no",
            "seller",
            "ccy",
            "pay_amount",
            "paid_at",
            "updated_at",
        }
        assert row.changed_at.tzinfo is UTC

    def test_a_missing_table_makes_the_source_unavailable(self, tmp_path: Path) -> None:
        """A database error stops the run with the checkpoint where it was."""
        engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        clock = ManualClock(T0 + timedelta(minutes=2))
        app = _app(clock)
        report = app.collect(
            SqlTableSource("db", "t", engine, "orders"), MAPPING, clock.now(), start=T0
        )
        assert report.windows == 0 and report.source_error is not None
