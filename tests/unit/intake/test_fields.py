"""Field mappings: trim to what settlement needs, rename, convert exactly, refuse the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from settlement_core.errors import RecordRejected
from settlement_core.intake import FieldKind, FieldMapping, FieldSpec
from settlement_core.money import money

MAPPING = FieldMapping(
    {
        "order_id": FieldSpec("ORDER_NO"),
        "shop_id": FieldSpec("SELLER"),
        "currency": FieldSpec("CCY"),
        "status": FieldSpec("STATE", optional=True),
        "amount": FieldSpec("PAY", FieldKind.DECIMAL),
        "placed_at": FieldSpec("PAID", FieldKind.TIMESTAMP),
        "refunded_at": FieldSpec("REFUND_TIME", FieldKind.TIMESTAMP, optional=True),
    }
)
RAW = {
    "ORDER_NO": "  A-1 ",
    "SELLER": 42,
    "CCY": " jpy",
    "STATE": "FIXED",
    "PAY": "1200",
    "PAID": "2025-03-01T10:00:00+08:00",
    "REFUND_TIME": "",
    "BUYER": "someone",
}


class TestApply:
    """A raw record becomes an OrderRecord."""

    def test_renames_trims_and_converts(self) -> None:
        """Names are the mapping's, text is trimmed, amounts exact, instants aware."""
        record = MAPPING.apply(RAW)
        assert (record.order_id, record.shop_id, record.status) == ("A-1", "42", "FIXED")
        assert record.amounts == {"amount": money("1200", "JPY")}
        assert record.times == {
            "placed_at": datetime(2025, 3, 1, 10, tzinfo=timezone(timedelta(hours=8)))
        }
        assert record.times["placed_at"] == datetime(2025, 3, 1, 2, tzinfo=UTC)

    def test_accepts_decimals_and_datetimes_as_they_are(self) -> None:
        """A database driver's Decimal and datetime pass unchanged."""
        at = datetime(2025, 3, 1, tzinfo=UTC)
        record = MAPPING.apply({**RAW, "CCY": "USD", "PAY": Decimal("12.30"), "PAID": at})
        assert record.amounts["amount"] == money("12.30", "USD")
        assert record.times["placed_at"] == at

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"PAY": 12.3}, "exact decimal"),
            ({"PAY": True}, "exact decimal"),
            ({"PAY": "NaN"}, "not finite"),
            ({"PAY": "twelve"}, "not a decimal"),
            ({"PAY": "12.5"}, "PAY"),  # yen have no minor unit
            ({"CCY": "XXQ"}, "PAY"),
            ({"PAID": "2025-03-01T10:00:00"}, "time-zone aware"),
            ({"PAID": "yesterday"}, "ISO 8601"),
            ({"SELLER": None}, "missing"),
            ({"ORDER_NO": "a b"}, "printable ASCII"),
            ({"ORDER_NO": ["x"]}, "must be text"),
        ],
    )
    def test_refuses_what_does_not_fit(self, changes: dict[str, object], message: str) -> None:
        """Every bad field is a RecordRejected naming it."""
        with pytest.raises(RecordRejected, match=message):
            MAPPING.apply({**RAW, **changes})

    def test_a_mapping_needs_the_identifying_fields(self) -> None:
        """order_id, shop_id and currency are required text targets."""
        with pytest.raises(RecordRejected, match="currency"):
            FieldMapping({"order_id": FieldSpec("a"), "shop_id": FieldSpec("b")})
