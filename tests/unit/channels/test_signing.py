"""Callback signing: round trips, tampering, rotation, headers and the time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement_adapters.channels.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify,
)
from settlement_core.errors import (
    BadSignature,
    InvalidIdentifier,
    InvalidTimestamp,
    StaleCallback,
    ValidationError,
)

SECRET = b"whsec-current"
OLD_SECRET = b"whsec-previous"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BODY = b'{"idempotency_key":"k-1","outcome":"paid"}'
NONCES = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="."),
    min_size=1,
    max_size=128,
)


class TestRoundTrip:
    """What sign produces, verify accepts."""

    def test_verify_returns_sent_at_and_nonce(self) -> None:
        """The headers carry whole unix seconds and the nonce back out."""
        headers = sign(SECRET, BODY, T0, "n-1")
        assert headers[TIMESTAMP_HEADER] == str(int(T0.timestamp()))
        assert verify(SECRET, BODY, headers, T0) == (T0, "n-1")

    def test_sub_second_timestamps_are_truncated(self) -> None:
        """A timestamp with microseconds is signed as its whole second."""
        headers = sign(SECRET, BODY, T0 + timedelta(microseconds=999_999), "n-1")
        assert verify(SECRET, BODY, headers, T0)[0] == T0

    def test_header_names_are_case_insensitive(self) -> None:
        """Proxies lower-case header names; verification does not care."""
        headers = {name.lower(): value for name, value in sign(SECRET, BODY, T0, "n").items()}
        assert verify(SECRET, BODY, headers, T0) == (T0, "n")

    @given(body=st.binary(max_size=512), nonce=NONCES)
    def test_any_body_and_nonce_round_trip(self, body: bytes, nonce: str) -> None:
        """Every body and every allowed nonce verify under the secret that signed them."""
        assert verify(SECRET, body, sign(SECRET, body, T0, nonce), T0) == (T0, nonce)


class TestRejection:
    """Anything not signed by a known secret is refused."""

    @given(
        body=st.binary(min_size=1, max_size=256),
        data=st.data(),
    )
    def test_any_single_byte_tamper_is_rejected(self, body: bytes, data: st.DataObject) -> None:
        """Changing any one byte of the body breaks the signature."""
        headers = sign(SECRET, body, T0, "n-1")
        index = data.draw(st.integers(0, len(body) - 1))
        flip = data.draw(st.integers(1, 255))
        tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
        with pytest.raises(BadSignature):
            verify(SECRET, tampered, headers, T0)

    def test_wrong_secret_is_rejected(self) -> None:
        """A callback signed with another secret does not verify."""
        with pytest.raises(BadSignature):
            verify(SECRET, BODY, sign(b"someone-else", BODY, T0, "n"), T0)

    @pytest.mark.parametrize(
        ("header", "value"),
        [(NONCE_HEADER, "n-2"), (TIMESTAMP_HEADER, str(int(T0.timestamp()) + 1))],
    )
    def test_changed_nonce_or_timestamp_is_rejected(self, header: str, value: str) -> None:
        """The nonce and timestamp are signed too, so neither can be swapped."""
        headers = sign(SECRET, BODY, T0, "n-1") | {header: value}
        with pytest.raises(BadSignature):
            verify(SECRET, BODY, headers, T0)

    def test_bytes_cannot_move_between_nonce_and_body(self) -> None:
        """A dot in the nonce is refused, so no nonce can absorb the body's first bytes."""
        headers = sign(SECRET, b"x.rest", T0, "n")
        forged = headers | {NONCE_HEADER: "n.x"}
        with pytest.raises(BadSignature):
            verify(SECRET, b"rest", forged, T0)

    @pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
    def test_missing_header_is_rejected(self, missing: str) -> None:
        """Each of the three headers is required."""
        headers = sign(SECRET, BODY, T0, "n")
        del headers[missing]
        with pytest.raises(BadSignature, match=missing):
            verify(SECRET, BODY, headers, T0)

    @pytest.mark.parametrize(
        ("header", "value"),
        [
            (TIMESTAMP_HEADER, "soon"),
            (TIMESTAMP_HEADER, "-1714564800"),
            (TIMESTAMP_HEADER, " 1714564800"),
            (TIMESTAMP_HEADER, "9" * 40),
            (NONCE_HEADER, ""),
            (NONCE_HEADER, "has space"),
            (NONCE_HEADER, "x" * 129),
            (NONCE_HEADER, "caf\u00e9"),
            (SIGNATURE_HEADER, "not-hex"),
            (SIGNATURE_HEADER, "ab" * 31),
            (SIGNATURE_HEADER, "\u00e9" * 64),
        ],
    )
    def test_malformed_header_is_rejected(self, header: str, value: str) -> None:
        """Garbage in a header is a bad signature, never a crash."""
        headers = sign(SECRET, BODY, T0, "n") | {header: value}
        with pytest.raises(BadSignature):
            verify(SECRET, BODY, headers, T0)

    def test_conflicting_spellings_of_a_header_are_rejected(self) -> None:
        """Two spellings of one header with different values are refused, not guessed."""
        headers = sign(SECRET, BODY, T0, "n") | {NONCE_HEADER.lower(): "other"}
        with pytest.raises(BadSignature):
            verify(SECRET, BODY, headers, T0)


class TestRotation:
    """During a rotation, callbacks signed with either secret are accepted."""

    def test_any_listed_secret_may_match(self) -> None:
        """A callback signed with the old secret verifies against [new, old]."""
        headers = sign(OLD_SECRET, BODY, T0, "n")
        assert verify([SECRET, OLD_SECRET], BODY, headers, T0) == (T0, "n")
        assert verify((OLD_SECRET,), BODY, headers, T0) == (T0, "n")

    def test_retired_secret_no_longer_matches(self) -> None:
        """Once the old secret is dropped from the list, its callbacks are refused."""
        with pytest.raises(BadSignature):
            verify([SECRET], BODY, sign(OLD_SECRET, BODY, T0, "n"), T0)

    @pytest.mark.parametrize("secrets", [[], [b""], b""])
    def test_no_usable_secret_is_a_configuration_error(self, secrets: bytes | list[bytes]) -> None:
        """Verifying against nothing is a setup mistake, not a bad callback."""
        with pytest.raises(ValidationError):
            verify(secrets, BODY, sign(SECRET, BODY, T0, "n"), T0)


class TestWindow:
    """Callbacks are accepted within the tolerance on either side of now."""

    @pytest.mark.parametrize("offset", [timedelta(minutes=5), timedelta(minutes=-5), timedelta(0)])
    def test_edges_of_the_window_are_accepted(self, offset: timedelta) -> None:
        """Exactly the tolerance away, past or future, is still fine."""
        assert verify(SECRET, BODY, sign(SECRET, BODY, T0, "n"), T0 + offset)[0] == T0

    @pytest.mark.parametrize(
        "offset", [timedelta(minutes=5, seconds=1), timedelta(minutes=-5, seconds=-1)]
    )
    def test_outside_the_window_is_stale(self, offset: timedelta) -> None:
        """One second beyond the tolerance, old or from the future, is stale."""
        with pytest.raises(StaleCallback):
            verify(SECRET, BODY, sign(SECRET, BODY, T0, "n"), T0 + offset)

    def test_tolerance_is_configurable(self) -> None:
        """A wider window accepts an older callback."""
        late = T0 + timedelta(hours=1)
        headers = sign(SECRET, BODY, T0, "n")
        assert verify(SECRET, BODY, headers, late, tolerance=timedelta(hours=1))[0] == T0

    def test_a_forged_stale_callback_is_a_bad_signature(self) -> None:
        """The signature is checked first: forgeries are reported as such."""
        headers = sign(b"someone-else", BODY, T0, "n")
        with pytest.raises(BadSignature):
            verify(SECRET, BODY, headers, T0 + timedelta(days=1))


class TestSignArguments:
    """sign refuses what verify could never accept."""

    @pytest.mark.parametrize("nonce", ["", "a.b", "with space", "x" * 129])
    def test_bad_nonce_is_refused(self, nonce: str) -> None:
        """Nonces are 1..128 printable ASCII characters without spaces or dots."""
        with pytest.raises(InvalidIdentifier):
            sign(SECRET, BODY, T0, nonce)

    def test_naive_timestamp_is_refused(self) -> None:
        """A timestamp without a time zone is ambiguous."""
        with pytest.raises(InvalidTimestamp):
            sign(SECRET, BODY, datetime(2024, 5, 1, 12, 0), "n")
