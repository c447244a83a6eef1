"""Time-ordered ids and host identifier validation."""

from __future__ import annotations

import uuid

import pytest

from settlement_core.errors import InvalidIdentifier
from settlement_core.ids import UuidV7Factory, external_id


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


class TestExternalId:
    """What a host may send as an identifier."""

    @pytest.mark.parametrize(
        "value", ["", " ", "a b", "x" * 129, "caf\u00e9", "tab\t", None, 5, b"bytes"]
    )
    def test_bad_identifiers_are_refused(self, value: object) -> None:
        """Empty, oversized, non-ASCII, spaced or non-string ids raise InvalidIdentifier."""
        with pytest.raises(InvalidIdentifier):
            external_id(value, "shop_id")

    def test_good_identifier_is_returned(self) -> None:
        """Printable ASCII up to 128 characters passes."""
        assert external_id("order-1:sale#2", "key") == "order-1:sale#2"
