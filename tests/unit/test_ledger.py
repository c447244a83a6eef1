"""Journal transactions balance per currency; corrections are exact reversals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from settlement_core.errors import UnbalancedTransaction
from settlement_core.ledger import Entry, JournalTransaction, net, postings

AT = datetime(2025, 1, 1, tzinfo=UTC)


def _tx(*entries: Entry) -> JournalTransaction:
    return JournalTransaction(
        id="t1", tenant_id="t", kind="test", reference="r", occurred_at=AT, entries=entries
    )


class TestBalance:
    """A transaction must sum to zero in every currency."""

    def test_balanced_transaction_is_accepted(self) -> None:
        """Two legs of opposite sign balance."""
        tx = _tx(Entry("a", "USD", 5), Entry("b", "USD", -5))
        assert net(tx.entries) == {("a", "USD"): 5, ("b", "USD"): -5}

    def test_unbalanced_transaction_is_refused(self) -> None:
        """A leg without its counterpart raises UnbalancedTransaction."""
        with pytest.raises(UnbalancedTransaction, match="USD"):
            _tx(Entry("a", "USD", 5), Entry("b", "USD", -4))

    def test_balance_is_per_currency(self) -> None:
        """Amounts in two currencies never offset each other."""
        with pytest.raises(UnbalancedTransaction):
            _tx(Entry("a", "USD", 5), Entry("b", "EUR", -5))

    def test_empty_transaction_is_refused(self) -> None:
        """A transaction needs entries."""
        with pytest.raises(UnbalancedTransaction):
            _tx()

    def test_non_integer_amounts_are_refused(self) -> None:
        """Minor units are integers; a float never enters the journal."""
        with pytest.raises(UnbalancedTransaction):
            _tx(Entry("a", "USD", 0.5), Entry("b", "USD", -0.5))  # type: ignore[arg-type]


class TestPostings:
    """The postings of each business event."""

    def test_reversal_undoes_exactly(self) -> None:
        """A transaction plus its reversal nets to nothing."""
        tx = postings.payout_created("t1", "t", "acc", "p1", "USD", 1106, [("EUR", 1005, 1106)], AT)
        back = tx.reversal("t2", AT, "p1")
        assert back.reverses == "t1"
        assert net([*tx.entries, *back.entries]) == {}

    def test_fx_payout_balances_in_both_currencies(self) -> None:
        """A converted payout passes through the FX position."""
        tx = postings.payout_created(
            "t1", "t", "acc", "p1", "USD", 1206, [("EUR", 1005, 1106), ("USD", 100, 100)], AT
        )
        legs = net(tx.entries)
        assert legs[("party:acc:available", "EUR")] == -1005
        assert legs[("platform:payouts_in_flight", "USD")] == 1206


class TestTransfer:
    """The two-leg transaction most events post, built without attrs' generic checks."""

    def test_equals_the_transaction_built_from_entries(self) -> None:
        """Same fields, same entries, same equality and hash as the checked constructor."""
        fast = JournalTransaction.transfer("t1", "t", "k", "r", AT, ("a", "b", "USD", 250))
        checked = JournalTransaction(
            id="t1",
            tenant_id="t",
            kind="k",
            reference="r",
            occurred_at=AT,
            entries=(Entry("a", "USD", -250), Entry("b", "USD", 250)),
        )
        assert fast == checked
        assert hash(fast.entries) == hash(checked.entries)
        assert fast.reverses is None
        assert net(fast.entries) == {("a", "USD"): -250, ("b", "USD"): 250}

    @pytest.mark.parametrize("amount", [1.5, "250", True, None])
    def test_non_integer_amount_is_refused(self, amount: object) -> None:
        """Minor units are ints; anything else is refused as the constructor refuses it."""
        with pytest.raises(UnbalancedTransaction, match="not an integer"):
            JournalTransaction.transfer("t1", "t", "k", "r", AT, ("a", "b", "USD", amount))  # type: ignore[arg-type]

    def test_item_booked_moves_clearing_to_pending(self) -> None:
        """The posting of every booked item."""
        tx = postings.item_booked("t1", "t", "acc", "i1", "USD", -75, AT)
        assert [(e.account, e.amount_minor) for e in tx.entries] == [
            ("platform:clearing", 75),
            ("party:acc:pending", -75),
        ]
