"""Aggregates move only through their lifecycles, and every move is an event."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from settlement_core.errors import InvalidTransition
from settlement_core.lifecycle import PayoutStatus, StatementStatus
from settlement_core.model import (
    Account,
    ItemKind,
    Payout,
    RecordBillingItem,
    Statement,
    StatementTotalMismatch,
    StatusChanged,
)
from settlement_core.money import money
from settlement_core.rules import PayoutRule, Period

AT = datetime(2025, 3, 3, tzinfo=UTC)


def _payout() -> Payout:
    return Payout(
        id="p1",
        tenant_id="t",
        account_id="a1",
        key="k",
        amount_minor=100,
        currency="USD",
        sources=(),
        statement_ids=("s1",),
        created_at=AT,
        transaction_id="tx",
    )


def _statement() -> Statement:
    return Statement(
        id="s1",
        tenant_id="t",
        account_id="a1",
        currency="USD",
        period=Period(AT, AT + timedelta(days=1)),
        rule=PayoutRule(rule_id="daily"),
        payout_date=date(2025, 3, 4),
        payable_at=AT + timedelta(days=1),
        opened_at=AT,
    )


class TestPayout:
    """Payout moves and their events."""

    def test_every_move_emits_status_changed(self) -> None:
        """submit, fail, retry, settle each leave one event with source and dest."""
        payout = _payout()
        payout.submit(AT)
        payout.fail(AT, "bank_unavailable", AT + timedelta(minutes=15))
        payout.retry(AT)
        payout.settle(AT)
        changes = [e for e in payout.events if isinstance(e, StatusChanged)]
        moves = [(e.trigger, e.source, e.dest) for e in changes]
        assert moves == [
            ("submit", "created", "ongoing"),
            ("fail", "ongoing", "failed"),
            ("retry", "failed", "ongoing"),
            ("settle", "ongoing", "paid"),
        ]
        assert payout.attempts == 2

    def test_illegal_move_changes_nothing(self) -> None:
        """A paid payout cannot be cancelled; state and events stay as they were."""
        payout = _payout()
        payout.submit(AT)
        payout.settle(AT)
        events = list(payout.events)
        with pytest.raises(InvalidTransition):
            payout.cancel(AT)
        assert payout.status is PayoutStatus.PAID
        assert payout.events == events


class TestStatement:
    """Statement totals, recount and carried lines."""

    def test_recount_mismatch_is_recorded(self) -> None:
        """A close whose recount differs keeps both figures and raises an event."""
        statement = _statement()
        statement.book(500)
        statement.close(AT, recount_minor=400)
        assert statement.has_mismatch
        assert any(isinstance(e, StatementTotalMismatch) for e in statement.events)

    def test_closed_statement_takes_no_items(self) -> None:
        """Booking on a closed statement is a programming error, caught loudly."""
        statement = _statement()
        statement.close(AT, recount_minor=0)
        with pytest.raises(AssertionError):
            statement.book(1)

    def test_carry_then_pay_keeps_the_carried_lines(self) -> None:
        """A carried statement paid later keeps what it carried."""
        statement = _statement()
        statement.book(300)
        statement.close(AT, recount_minor=300)
        statement.carry_forward(AT, brought_minor=-100, balance_minor=200)
        statement.pay_out(AT, "p1", brought_minor=None)
        assert statement.status is StatementStatus.PAID_OUT
        assert (statement.brought_forward_minor, statement.carried_forward_minor) == (-100, 200)


class TestAccount:
    """Holds."""

    def test_hold_twice_is_an_invalid_transition(self) -> None:
        """The aggregate itself refuses; the use case makes holding idempotent."""
        account = Account(
            id="a1", tenant_id="t", shop_id="s", time_zone="UTC", rule_id="daily", created_at=AT
        )
        account.hold(AT)
        with pytest.raises(InvalidTransition):
            account.hold(AT)


class TestFingerprint:
    """The content hash stored with an idempotency key."""

    def _cmd(self, **change: object) -> RecordBillingItem:
        fields: dict[str, object] = {
            "tenant_id": "t",
            "shop_id": "s",
            "key": "k",
            "order_id": "o",
            "kind": ItemKind.SALE,
            "amount": money("1.50", "USD"),
            "occurred_at": AT,
        }
        fields.update(change)
        return RecordBillingItem(**fields)  # type: ignore[arg-type]

    def test_hash_is_stable_across_releases(self) -> None:
        """A stored hash must match its replay after an upgrade: the content format is fixed."""
        cmd = self._cmd(
            kind=ItemKind.REFUND,
            amount=money("-12.30", "EUR"),
            occurred_at=datetime(2025, 3, 3, 10, 5, 7, 123, tzinfo=timezone(timedelta(hours=2))),
            run_id="r1",
        )
        assert cmd.fingerprint() == (
            "697756215a2afd5fa1c7cea3afe42ac8b7a3a0bc6591c0fb05ac3f6b067cf090"
        )

    def test_fingerprint_with_written_out_parts_is_the_fingerprint(self) -> None:
        """The ingest path passes the amount and instant it already wrote out."""
        cmd = self._cmd(occurred_at=AT.astimezone(timezone(timedelta(hours=-5))))
        assert cmd.fingerprint_with("1.50", "2025-03-03T00:00:00+00:00") == cmd.fingerprint()
        assert cmd.fingerprint_with("1.51", "2025-03-03T00:00:00+00:00") != cmd.fingerprint()

    def test_same_instant_in_another_zone_is_the_same_request(self) -> None:
        """Time zones are normalised before hashing."""
        shifted = AT.astimezone(timezone(timedelta(hours=9)))
        assert self._cmd().fingerprint() == self._cmd(occurred_at=shifted).fingerprint()

    def test_trailing_zeros_do_not_change_the_hash(self) -> None:
        """1.5 and 1.50 USD are the same amount."""
        assert self._cmd().fingerprint() == self._cmd(amount=money("1.5", "USD")).fingerprint()

    @pytest.mark.parametrize(
        "change",
        [
            {"amount": money("1.51", "USD")},
            {"amount": money("1.50", "EUR")},
            {"order_id": "o2"},
            {"kind": ItemKind.ADJUSTMENT},
            {"occurred_at": AT + timedelta(seconds=1)},
        ],
    )
    def test_any_content_change_changes_the_hash(self, change: dict[str, object]) -> None:
        """Amount, currency, order, kind and time all count."""
        assert self._cmd().fingerprint() != self._cmd(**change).fingerprint()
