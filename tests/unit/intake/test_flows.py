"""Seed 002's order-status table as worked examples: each path's entries, signs and dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from settlement_core.errors import RecordRejected
from settlement_core.intake import SEED_FLOW, Book, EntryRule, OrderRecord, StatusFlow, plain_orders
from settlement_core.money import money, to_minor

PLACED = datetime(2025, 3, 1, 10, tzinfo=UTC)
TICKETED = datetime(2025, 3, 2, 9, tzinfo=UTC)
SUPPLIER_REFUND = datetime(2025, 3, 5, 8, tzinfo=UTC)
REFUNDED = datetime(2025, 3, 6, 12, tzinfo=UTC)
CANCELLED = datetime(2025, 3, 1, 11, tzinfo=UTC)

# Every instant an order can carry; each example keeps only those its path reached.
TIMES = {
    "placed_at": PLACED,
    "fulfilled_at": TICKETED,
    "supplier_refunded_at": SUPPLIER_REFUND,
    "refunded_at": REFUNDED,
    "cancelled_at": CANCELLED,
}


def _order(status: str, *times: str) -> OrderRecord:
    return OrderRecord(
        order_id="o-1",
        shop_id="distributor-7",
        status=status,
        amounts={"amount": money("120.00", "CNY")},
        times={t: TIMES[t] for t in times},
    )


def _entries(record: OrderRecord) -> set[tuple[str, str, int, datetime]]:
    return {
        (e.rule, e.book.value, to_minor(e.amount), e.dated_at) for e in SEED_FLOW.entries(record)
    }


R_PLUS = ("receivable+", "receivable", 12000, PLACED)
S_PLUS = ("settlement+", "settlement", 12000, TICKETED)
S_MINUS = ("settlement-", "settlement", -12000, SUPPLIER_REFUND)

# (status, instants the order carries, expected entries): seed 002, section 2.3.3.
PATHS = [
    ("LOCKED", ("placed_at",), {R_PLUS}),
    ("FIXING", ("placed_at",), {R_PLUS}),
    ("FIXED", ("placed_at", "fulfilled_at"), {R_PLUS, S_PLUS}),
    (
        "CANCELED",
        ("placed_at", "cancelled_at"),
        {R_PLUS, ("receivable-", "receivable", -12000, CANCELLED)},
    ),
    ("REFUNDING", ("placed_at", "fulfilled_at", "supplier_refunded_at"), {R_PLUS, S_PLUS, S_MINUS}),
    (
        "REFUNDED",
        ("placed_at", "fulfilled_at", "supplier_refunded_at", "refunded_at"),
        {R_PLUS, S_PLUS, S_MINUS, ("receivable-", "receivable", -12000, REFUNDED)},
    ),
    (
        "REFUND_FAIL",
        ("placed_at", "fulfilled_at", "supplier_refunded_at"),
        {R_PLUS, S_PLUS, S_MINUS},
    ),
]


class TestSeedTable:
    """The receivable and settlement entries of every status, with their time bases."""

    @pytest.mark.parametrize(("status", "times", "expected"), PATHS, ids=[p[0] for p in PATHS])
    def test_each_status_implies_its_entries(
        self, status: str, times: tuple[str, ...], expected: set[tuple[str, str, int, datetime]]
    ) -> None:
        """Positive and negative entries, receivable and settlement, each dated by its basis."""
        assert _entries(_order(status, *times)) == expected

    def test_a_refund_with_no_refund_time_falls_back_to_the_cancel_time(self) -> None:
        """Receivable negatives are dated by the refund time, else the cancel time."""
        record = _order("REFUNDED", "placed_at", "cancelled_at")
        assert ("receivable-", "receivable", -12000, CANCELLED) in _entries(record)

    def test_a_refund_before_its_fulfilment_books_what_it_can_and_the_rest_later(self) -> None:
        """Out of order: the refund arrives first without a ticket time; the fulfilment adds it."""
        early = _entries(_order("REFUNDED", "placed_at", "supplier_refunded_at", "refunded_at"))
        late = _entries(_order("FIXED", "placed_at", "fulfilled_at"))
        assert S_PLUS not in early and S_PLUS in late
        everything = _entries(_order(PATHS[5][0], *PATHS[5][1]))
        assert early | late == everything

    def test_the_path_taken_does_not_change_the_entries(self) -> None:
        """Any order of arrival of an order's records yields the same set of entries."""
        records = [_order(status, *times) for status, times, _ in PATHS[:3]] + [
            _order(PATHS[5][0], *PATHS[5][1])
        ]
        forward = set().union(*(_entries(r) for r in records))
        backward = set().union(*(_entries(r) for r in reversed(records)))
        assert forward == backward == PATHS[5][2]

    def test_an_unknown_or_missing_status_is_refused(self) -> None:
        """A status the flow does not know is a typed error, not a silent skip."""
        with pytest.raises(RecordRejected, match="unknown status"):
            SEED_FLOW.entries(_order("SHIPPED", "placed_at"))
        with pytest.raises(RecordRejected, match="no status"):
            SEED_FLOW.entries(
                OrderRecord("o", "s", None, {"amount": money("1.00", "CNY")}, {"placed_at": PLACED})
            )


class TestConfiguration:
    """Flows are data: other rules, other amounts, plain feeds."""

    def test_a_rule_can_book_another_amount(self) -> None:
        """Settlement at cost price while the receivable is at sale price."""
        flow = StatusFlow(
            (
                EntryRule("r", Book.RECEIVABLE, 1, frozenset({"placed"}), ("placed_at",)),
                EntryRule("s", Book.SETTLEMENT, 1, frozenset({"placed"}), ("placed_at",), "cost"),
            )
        )
        record = OrderRecord(
            "o",
            "s",
            "placed",
            {"amount": money("10.00", "USD"), "cost": money("8.00", "USD")},
            {"placed_at": PLACED},
        )
        assert [(e.rule, to_minor(e.amount)) for e in flow.entries(record)] == [
            ("r", 1000),
            ("s", 800),
        ]

    def test_a_rule_needs_a_sign_and_a_time_basis(self) -> None:
        """Misconfigured rules fail when defined."""
        with pytest.raises(RecordRejected):
            EntryRule("x", Book.SETTLEMENT, 2, frozenset(), ("t",))
        with pytest.raises(RecordRejected):
            EntryRule("x", Book.SETTLEMENT, 1, frozenset(), ())

    def test_plain_orders_book_the_amount_as_given(self) -> None:
        """A plain feed books one entry per record, negative for a refund."""
        record = OrderRecord(
            "o", "s", None, {"amount": money("-2.00", "USD")}, {"occurred_at": PLACED}
        )
        [entry] = plain_orders().entries(record)
        assert (entry.rule, to_minor(entry.amount), entry.dated_at) == ("order", -200, PLACED)
