"""Time-ordered ids and host identifier validation."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest

from settlement_core.errors import InvalidIdentifier
from settlement_core.ids import MAX_EXTERNAL_ID_LENGTH, UuidV7Factory, external_id, external_ids


class TestUuidV7:
    """Ids sort by creation and are valid UUIDv7."""

    def test_ids_are_unique_and_increasing(self) -> None:
        """Many ids in one millisecond still sort in creation order."""
        factory = UuidV7Factory()
        ids = [factory.new_id() for _ in range(20_000)]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)

    def test_ids_are_version_7_rfc_variant(self) -> None:
        """The version and variant bits are set as RFC 9562 says."""
        parsed = uuid.UUID(UuidV7Factory().new_id())
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122

    def test_id_carries_its_millisecond_in_the_first_48_bits(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The time part, written once per millisecond, is the clock's millisecond."""
        now = [1_733_000_000_123_456_789]
        monkeypatch.setattr("settlement_core.ids.time", SimpleNamespace(time_ns=lambda: now[0]))
        factory = UuidV7Factory()
        first = [factory.new_id() for _ in range(3)]
        now[0] += 5_000_000  # five milliseconds later
        later = [factory.new_id() for _ in range(3)]
        assert {uuid.UUID(i).int >> 80 for i in first} == {1_733_000_000_123}
        assert {uuid.UUID(i).int >> 80 for i in later} == {1_733_000_000_128}
        assert first + later == sorted(first + later)

    def test_ids_span_many_random_pools(self) -> None:
        """Random bits are read in pools; ids from consecutive pools stay unique and ordered."""
        factory = UuidV7Factory()
        ids = [factory.new_id() for _ in range(1_000)]
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids)
        assert all(uuid.UUID(i).version == 7 for i in ids)

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
    def test_forked_child_does_not_mint_the_parents_ids(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A child neither reuses its parent's random bytes nor bumps the same last id."""
        # Both processes in one millisecond: only the random bits can tell them apart.
        frozen = SimpleNamespace(time_ns=lambda: 1_733_000_000_000_000_000)
        monkeypatch.setattr("settlement_core.ids.time", frozen)
        factory = UuidV7Factory()
        factory.new_id()  # fills the pool the child inherits
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read)
            os.write(write, " ".join(factory.new_id() for _ in range(20)).encode())
            os._exit(0)
        os.close(write)
        parent = {factory.new_id() for _ in range(20)}
        with os.fdopen(read) as pipe:
            child = set(pipe.read().split())
        os.waitpid(pid, 0)
        assert len(child) == 20
        assert child.isdisjoint(parent)


class TestExternalId:
    """What a host may send as an identifier."""

    @pytest.mark.parametrize(
        "value",
        ["", " ", "a b", "x" * 129, "caf\u00e9", "tab\t", "line\n", None, 5, b"bytes"],
    )
    def test_bad_identifiers_are_refused(self, value: object) -> None:
        """Empty, oversized, non-ASCII, spaced or non-string ids raise InvalidIdentifier."""
        with pytest.raises(InvalidIdentifier):
            external_id(value, "shop_id")

    def test_good_identifier_is_returned(self) -> None:
        """Printable ASCII up to 128 characters passes."""
        assert external_id("order-1:sale#2", "key") == "order-1:sale#2"


class TestExternalIds:
    """Several identifiers checked at once, exactly as one by one."""

    GOOD = ("tenant", "shop-1", "ord-1:sale", "x" * MAX_EXTERNAL_ID_LENGTH)

    def test_good_identifiers_pass(self) -> None:
        """Valid ids, up to the longest allowed, raise nothing."""
        external_ids(self.GOOD, ("a", "b", "c", "d"))

    @pytest.mark.parametrize(
        "bad", ["", " ", "a b", "x" * 129, "caf\u00e9", "tab\t", "line\n", None, 5, b"b"]
    )
    @pytest.mark.parametrize("at", [0, 2, 3])
    def test_a_bad_identifier_is_named(self, bad: object, at: int) -> None:
        """The error is the one external_id raises for the bad field, naming it."""
        values: list[object] = list(self.GOOD)
        values[at] = bad
        names = ("tenant_id", "shop_id", "key", "order_id")
        with pytest.raises(InvalidIdentifier) as one_by_one:
            external_id(bad, names[at])
        with pytest.raises(InvalidIdentifier) as together:
            external_ids(values, names)
        assert str(together.value) == str(one_by_one.value)
