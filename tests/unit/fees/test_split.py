"""Splitting an order among parties: fee lines, ratio shares, residuals and refunds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from settlement_core.errors import CurrencyMismatch, InvalidAmount, InvalidRule
from settlement_core.fees import MissingParty, Share, Split, SplitLine, SplitRule, split_amount
from settlement_core.money import Money, money

D = Decimal
PARTIES = {"seller": "1001", "supplier": "2001", "store": "0001"}


def usd(amount: str) -> Money:
    """Money in USD."""
    return money(amount, "USD")


class TestSplitAmount:
    """split_amount(): fee lines first, then the remainder by ratio."""

    def test_residual_party_absorbs_what_fees_leave(self) -> None:
        """100.00 - 15.00 commission - 2.35 payment fee = 82.65 for the seller."""
        split = split_amount(
            usd("100.00"),
            [SplitLine("platform", "commission", usd("15.00")),
             SplitLine("psp", "payment_fee", usd("2.35"))],
            SplitRule.residual("@seller"),
            PARTIES,
        )  # fmt: skip
        assert split.lines == (
            SplitLine("platform", "commission", usd("15.00")),
            SplitLine("psp", "payment_fee", usd("2.35")),
            SplitLine("1001", "remainder", usd("82.65")),
        )

    def test_ratio_remainder_uses_largest_remainder(self) -> None:
        """100.01 shared 7:3 is 70.007 and 30.003: the spare cent goes to the 0.7 remainder."""
        split = split_amount(
            usd("100.01"),
            [],
            SplitRule((Share("@seller", D(7)), Share("@supplier", D(3)))),
            PARTIES,
        )
        assert [line.amount for line in split.lines] == [usd("70.01"), usd("30.00")]

    def test_equal_ratios_give_the_spare_cent_to_the_first_share(self) -> None:
        """0.05 in three equal shares: 0.02, 0.02, 0.01 (earlier shares first on ties)."""
        split = split_amount(
            usd("0.05"),
            [],
            SplitRule((Share("a"), Share("b"), Share("c"))),
            PARTIES,
        )
        assert [line.amount for line in split.lines] == [usd("0.02"), usd("0.02"), usd("0.01")]

    def test_fees_above_the_order_leave_a_negative_remainder(self) -> None:
        """A 1.00 order with a 1.50 fixed fee leaves the seller owing 0.50."""
        split = split_amount(
            usd("1.00"), [SplitLine("platform", "fixed_fee", usd("1.50"))],
            SplitRule.residual("@seller"), PARTIES,
        )  # fmt: skip
        assert split.lines[-1] == SplitLine("1001", "remainder", usd("-0.50"))

    def test_zero_ratio_share_gets_a_zero_line(self) -> None:
        """A share with ratio 0 is kept as a zero line for the record."""
        split = split_amount(
            usd("9.99"), [], SplitRule((Share("a", D(0)), Share("b", D(1)))), PARTIES
        )
        assert [line.amount for line in split.lines] == [usd("0.00"), usd("9.99")]

    def test_role_without_a_party_is_typed(self) -> None:
        """A share for @guide on an order without a guide raises MissingParty."""
        with pytest.raises(MissingParty, match="guide"):
            split_amount(usd("1.00"), [], SplitRule.residual("@guide"), PARTIES)

    def test_fee_line_in_another_currency_is_refused(self) -> None:
        """Every line shares the order's currency."""
        with pytest.raises(CurrencyMismatch):
            split_amount(
                usd("1.00"),
                [SplitLine("p", "fee", money("1", "JPY"))],
                SplitRule.residual("@seller"),
                PARTIES,
            )

    def test_duplicate_party_line_is_refused(self) -> None:
        """A party with two lines of one name would collide in the idempotency key."""
        with pytest.raises(InvalidRule, match="two 'fee' lines"):
            split_amount(
                usd("1.00"),
                [SplitLine("p", "fee", usd("0.10")), SplitLine("p", "fee", usd("0.20"))],
                SplitRule.residual("@seller"),
                PARTIES,
            )

    def test_split_needs_a_rule(self) -> None:
        """Shares alone are not a rule."""
        with pytest.raises(InvalidRule, match="SplitRule"):
            split_amount(usd("1.00"), [], [Share("a")], PARTIES)  # type: ignore[arg-type]


class TestSplitValue:
    """The Split value keeps its invariant and mirrors for refunds."""

    def test_unbalanced_split_cannot_be_built(self) -> None:
        """Lines that do not sum to the amount are refused."""
        with pytest.raises(InvalidAmount, match=r"sum to 9\.99 USD, not the order's 10\.00 USD"):
            Split(usd("10.00"), (SplitLine("a", "x", usd("9.99")),))

    def test_negated_mirrors_every_line(self) -> None:
        """A full refund books exactly the negated sale, zero lines staying zero."""
        sale = Split(
            usd("10.00"),
            (
                SplitLine("a", "x", usd("7.01")),
                SplitLine("b", "y", usd("2.99")),
                SplitLine("c", "z", usd("0.00")),
            ),
        )
        refund = sale.negated()
        assert refund.amount == usd("-10.00")
        assert [line.amount for line in refund.lines] == [usd("-7.01"), usd("-2.99"), usd("0.00")]
        assert str(refund.lines[2].amount.amount) == "0.00"  # never "-0.00"
        assert refund.negated() == sale

    def test_by_party_sums_each_party(self) -> None:
        """A party with a fee line and a share line is totalled once."""
        split = Split(
            usd("10.00"),
            (
                SplitLine("a", "fee", usd("1.00")),
                SplitLine("b", "remainder", usd("6.00")),
                SplitLine("a", "remainder", usd("3.00")),
            ),
        )
        assert dict(split.by_party()) == {"a": usd("4.00"), "b": usd("6.00")}

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"party": "has space", "line": "x", "amount": money("1", "JPY")}, "party"),
            ({"party": "a", "line": "not a name", "amount": money("1", "JPY")}, "line"),
            ({"party": "a", "line": "x", "amount": D(1)}, "Money"),
        ],
    )
    def test_bad_lines(self, kwargs: dict[str, Any], message: str) -> None:
        """Lines need an id, a name and Money."""
        with pytest.raises(ValueError, match=message):
            SplitLine(**kwargs)


class TestSplitRule:
    """What a split rule refuses."""

    @pytest.mark.parametrize(
        ("shares", "message"),
        [
            ((), "at least one share"),
            ((Share("a", D(0)),), "not all be zero"),
            ((Share("a"), Share("a")), "listed twice"),
            (("a",), "Share values"),
            ("a", "sequence of Share"),
        ],
    )
    def test_bad_rules(self, shares: Any, message: str) -> None:
        """A rule needs distinct shares with some positive ratio."""
        with pytest.raises(InvalidRule, match=message):
            SplitRule(shares)

    @pytest.mark.parametrize("ratio", [D(-1), 0.5, "1e2", D("NaN"), True])
    def test_bad_ratios(self, ratio: Any) -> None:
        """Ratios are exact and non-negative."""
        with pytest.raises(InvalidRule, match="ratio"):
            Share("a", ratio)

    def test_same_party_may_take_two_lines(self) -> None:
        """One party may share under two line names."""
        rule = SplitRule((Share("a", D(1), "x"), Share("a", D(1), "y")))
        assert rule.lines == {"x", "y"}

    def test_ratio_strings_are_exact(self) -> None:
        """'0.1' is the Decimal 0.1, not a float's neighbour."""
        assert Share("a", "0.1").ratio == D("0.1")
