"""Property tests: splits never lose or create a minor unit, and replays book nothing new."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from settlement_core.fees import (
    Fee,
    FeeSchedule,
    Formula,
    Share,
    Split,
    SplitLine,
    SplitRule,
    billing_items,
    split_amount,
)
from settlement_core.money import Money, Rounding, exponent, from_minor, to_minor

CURRENCIES = ("USD", "JPY", "KWD")  # exponents 2, 0 and 3
PARTIES = {"seller": "seller-1", "supplier": "supplier-1"}
AT = datetime(2024, 6, 1, tzinfo=UTC)
MAX_UNITS = 10**12


@st.composite
def orders(draw: st.DrawFn) -> tuple[Money, list[SplitLine], SplitRule]:
    """An amount of either sign, fee lines of either sign, and ratio shares."""
    currency = draw(st.sampled_from(CURRENCIES))
    amount = from_minor(draw(st.integers(-MAX_UNITS, MAX_UNITS)), currency)
    fee_units = draw(st.lists(st.integers(-MAX_UNITS, MAX_UNITS), max_size=4))
    fee_lines = [
        SplitLine(f"party-{index % 2}", f"fee_{index}", from_minor(units, currency))
        for index, units in enumerate(fee_units)
    ]
    # Ratios up to 4 decimals; at least one positive so the rule is valid.
    ratios = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=5).filter(lambda r: any(r)))
    payees = ["@seller", "@supplier", "store-1", "guide-1", "platform"]
    shares = tuple(
        Share(payees[index], Decimal(ratio).scaleb(-4), f"share_{index}")
        for index, ratio in enumerate(ratios)
    )
    return amount, fee_lines, SplitRule(shares)


@given(orders())
def test_lines_sum_exactly_to_the_order(order: tuple[Money, list[SplitLine], SplitRule]) -> None:
    """Whatever the amount, fees and ratios, the lines add up to the order to the unit."""
    amount, fee_lines, rule = order
    split = split_amount(amount, fee_lines, rule, PARTIES)
    assert sum(to_minor(line.amount) for line in split.lines) == to_minor(amount)
    assert all(line.amount.currency == amount.currency for line in split.lines)
    places = exponent(amount.currency)
    assert all(line.amount.amount.as_tuple().exponent == -places for line in split.lines)
    assert split.lines[: len(fee_lines)] == tuple(fee_lines)


@given(orders())
def test_shares_are_within_one_unit_of_their_exact_part(
    order: tuple[Money, list[SplitLine], SplitRule],
) -> None:
    """Largest-remainder allocation: no share is off its exact proportion by a full unit."""
    amount, fee_lines, rule = order
    split = split_amount(amount, fee_lines, rule, PARTIES)
    remainder = to_minor(amount) - sum(to_minor(line.amount) for line in fee_lines)
    total_ratio = sum(Fraction(share.ratio) for share in rule.shares)
    share_lines = split.lines[len(fee_lines) :]
    for share, line in zip(rule.shares, share_lines, strict=True):
        exact = remainder * Fraction(share.ratio) / total_ratio
        assert abs(to_minor(line.amount) - exact) < 1


@given(orders(), st.integers(0, 10**6))
def test_replay_produces_identical_keys_and_refunds_new_ones(
    order: tuple[Money, list[SplitLine], SplitRule], sequence: int
) -> None:
    """Booking the same event twice gives identical commands; its refund never collides."""
    amount, fee_lines, rule = order
    split = split_amount(amount, fee_lines, rule, PARTIES)

    def book(event: Split, number: int) -> list[str]:
        items = billing_items(
            event, tenant_id="t1", order_id="o-1", occurred_at=AT, sequence=number
        )
        return [item.key for item in items]

    first = book(split, sequence)
    assert first == book(split, sequence)
    assert len(set(first)) == len(first)
    refund = split.negated()
    assert to_minor(refund.amount) == -to_minor(amount)
    assert not set(first) & set(book(refund, sequence + 1))


@given(
    st.sampled_from(CURRENCIES),
    st.integers(-MAX_UNITS, MAX_UNITS),
    st.integers(0, 10**5),
    st.sampled_from(list(Rounding)),
)
def test_scheduled_fees_split_exactly_and_replay(
    currency: str, price_units: int, rate_units: int, rounding: Rounding
) -> None:
    """Computed fees in any rounding split exactly; the snapshot recomputes the same fees."""
    schedule = FeeSchedule(
        name="prop",
        factors=("price", "rate"),
        fees=(
            Fee("commission", "price * rate", rounding),
            Fee("tax", "commission * 0.13", rounding),
        ),
        split=SplitRule((Share("@seller", Decimal(2)), Share("@supplier", Decimal(1)))),
    )
    price = from_minor(price_units, currency)
    rate = Decimal(rate_units).scaleb(-5)
    result = schedule.compute(currency, {"price": price.amount, "rate": rate})
    assert schedule.compute(currency, result.factors) == result
    fee_lines = [
        SplitLine("platform", name, result.amounts[name]) for name in ("commission", "tax")
    ]
    split = split_amount(price, fee_lines, schedule.split, PARTIES)
    assert sum(to_minor(line.amount) for line in split.lines) == price_units


DECIMALS = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=6, allow_nan=False
)


@given(DECIMALS, DECIMALS)
def test_formula_arithmetic_is_exact(a: Decimal, b: Decimal) -> None:
    """+, - and * agree with exact rational arithmetic."""
    values = {"a": a, "b": b}
    assert Fraction(Formula("a + b - b").evaluate(values)) == Fraction(a)
    assert Fraction(Formula("a * b").evaluate(values)) == Fraction(a) * Fraction(b)
    assert Fraction(Formula("a - b").evaluate(values)) == Fraction(a) - Fraction(b)


@given(DECIMALS, st.integers(0, 6))
def test_round_functions_agree_with_decimal_quantize(value: Decimal, places: int) -> None:
    """round_half_up(x, p) is Decimal.quantize with ROUND_HALF_UP, whatever the sign."""
    quantum = Decimal(1).scaleb(-places)
    rounded = Formula(f"round_half_up(x, {places})").evaluate({"x": value})
    assert rounded == value.quantize(quantum, rounding="ROUND_HALF_UP")
    mirrored = Formula(f"round_half_up(-x, {places})").evaluate({"x": value})
    assert mirrored == -rounded
