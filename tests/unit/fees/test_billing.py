"""Split lines to RecordBillingItem commands: kinds, signs and replay-stable keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from settlement_core.errors import InvalidIdentifier, InvalidTimestamp, ValidationError
from settlement_core.fees import Split, SplitLine, billing_items, line_key
from settlement_core.ids import MAX_EXTERNAL_ID_LENGTH, external_id
from settlement_core.model import AmountBasis, ItemKind
from settlement_core.money import Money, money

AT = datetime(2024, 6, 1, 12, tzinfo=UTC)


def usd(amount: str) -> Money:
    """Money in USD."""
    return money(amount, "USD")


SALE = Split(
    usd("100.00"),
    (
        SplitLine("platform", "commission", usd("15.00")),
        SplitLine("platform", "subsidy", usd("-5.00")),
        SplitLine("zero", "nothing", usd("0.00")),
        SplitLine("seller", "remainder", usd("90.00")),
    ),
)


def book(split: Split = SALE, **overrides: Any) -> Any:
    """billing_items() with defaults for everything but the split."""
    kwargs: dict[str, Any] = {
        "tenant_id": "t1",
        "order_id": "o-1",
        "occurred_at": AT,
        "sequence": 0,
    }
    kwargs.update(overrides)
    return billing_items(split, **kwargs)


class TestCommands:
    """What each command holds."""

    def test_one_command_per_non_zero_line(self) -> None:
        """Zero lines are skipped; the rest keep the split's order."""
        items = book()
        assert [(i.shop_id, i.amount) for i in items] == [
            ("platform", usd("15.00")),
            ("platform", usd("-5.00")),
            ("seller", usd("90.00")),
        ]
        assert {i.tenant_id for i in items} == {"t1"}
        assert {i.order_id for i in items} == {"o-1"}
        assert {i.occurred_at for i in items} == {AT}
        assert {i.basis for i in items} == {AmountBasis.DELTA}
        assert {i.run_id for i in items} == {None}

    def test_kinds_follow_the_signs_ingest_enforces(self) -> None:
        """With the order a line is a sale (or refund); against it, an adjustment."""
        assert [i.kind for i in book()] == [ItemKind.SALE, ItemKind.ADJUSTMENT, ItemKind.SALE]
        refund = [i.kind for i in book(SALE.negated(), sequence=1)]
        assert refund == [ItemKind.REFUND, ItemKind.ADJUSTMENT, ItemKind.REFUND]

    def test_refund_amounts_are_negative(self) -> None:
        """The negated split books negative amounts for the parties that were paid."""
        amounts = [i.amount for i in book(SALE.negated(), sequence=1)]
        assert amounts == [usd("-15.00"), usd("5.00"), usd("-90.00")]

    def test_zero_order_lines_are_adjustments(self) -> None:
        """A fully subsidised order (amount 0) books both sides as adjustments."""
        free = Split(
            usd("0.00"),
            (SplitLine("seller", "remainder", usd("10.00")),
             SplitLine("platform", "subsidy", usd("-10.00"))),
        )  # fmt: skip
        assert [i.kind for i in book(free)] == [ItemKind.ADJUSTMENT, ItemKind.ADJUSTMENT]

    def test_run_id_is_carried(self) -> None:
        """A calculation run id (seed 001 revocation) is put on every command."""
        assert {i.run_id for i in book(run_id="rebates-2024-06")} == {"rebates-2024-06"}


class TestKeys:
    """Idempotency keys: deterministic, distinct, and valid identifiers."""

    def test_replaying_gives_identical_commands(self) -> None:
        """The same order event books the same keys and the same fingerprints."""
        first, second = book(), book()
        assert first == second
        assert [i.fingerprint() for i in first] == [i.fingerprint() for i in second]

    def test_keys_are_distinct_within_an_event(self) -> None:
        """The same party with two lines gets two keys."""
        keys = [i.key for i in book()]
        assert len(set(keys)) == len(keys)

    @pytest.mark.parametrize(
        "changed",
        [
            ("o-2", "platform", "commission", 0),
            ("o-1", "platform2", "commission", 0),
            ("o-1", "platform", "commission2", 0),
            ("o-1", "platform", "commission", 1),
        ],
    )
    def test_each_key_component_matters(self, changed: tuple[str, str, str, int]) -> None:
        """Order id, party, line and sequence each change the key."""
        assert line_key(*changed) != line_key("o-1", "platform", "commission", 0)

    def test_components_cannot_run_into_each_other(self) -> None:
        """("ab", "c") and ("a", "bc") are different keys."""
        assert line_key("ab", "c", "x", 0) != line_key("a", "bc", "x", 0)

    def test_refund_event_books_under_new_keys(self) -> None:
        """Sequence 1 (the refund) never collides with sequence 0 (the sale)."""
        sale = {i.key for i in book()}
        refund = {i.key for i in book(SALE.negated(), sequence=1)}
        assert not sale & refund

    def test_keys_are_valid_external_ids_for_the_longest_ids(self) -> None:
        """Even 128-character order and party ids give a key ingest accepts."""
        longest = "o" * MAX_EXTERNAL_ID_LENGTH
        key = line_key(longest, "p" * MAX_EXTERNAL_ID_LENGTH, "commission", 10**9)
        assert external_id(key, "key") == key
        assert key.startswith("fee-")
        assert len(key) == 44

    def test_key_is_pinned(self) -> None:
        """The derivation is part of the stored data: changing it would re-book orders."""
        digest = hashlib.sha256(b"o-1\x1fseller\x1fremainder\x1f0").hexdigest()
        assert line_key("o-1", "seller", "remainder", 0) == "fee-" + digest[:40]


class TestValidation:
    """Bad arguments are refused before any command exists."""

    @pytest.mark.parametrize("sequence", [-1, True, "0", 1.0])
    def test_sequence_is_a_non_negative_int(self, sequence: Any) -> None:
        """Sequences count events from 0."""
        with pytest.raises(ValidationError, match="sequence"):
            book(sequence=sequence)

    @pytest.mark.parametrize("field", ["tenant_id", "order_id", "run_id"])
    def test_ids_are_checked(self, field: str) -> None:
        """Ids are printable ASCII without spaces."""
        with pytest.raises(InvalidIdentifier, match=field):
            book(SALE, **{field: "has space"})

    def test_occurred_at_must_be_aware(self) -> None:
        """A naive instant is refused."""
        with pytest.raises(InvalidTimestamp, match="occurred_at"):
            book(occurred_at=datetime(2024, 6, 1))

    def test_split_must_be_a_split(self) -> None:
        """A list of lines is not a split (it carries no balanced total)."""
        with pytest.raises(ValidationError, match="Split"):
            book(list(SALE.lines))  # type: ignore[arg-type]
