"""Failure policy: which provider codes allow sending a payout again."""

from __future__ import annotations

import pytest

from settlement_adapters.channels.policy import SIMULATED_CODES, FailurePolicy
from settlement_adapters.channels.simulated import (
    KEY_REUSED_CODE,
    PERMANENT_FATE_CODES,
    RETRYABLE_FATE_CODES,
    RETURN_CODE,
)
from settlement_core.errors import InvalidRule

POLICY = FailurePolicy(
    retryable=frozenset({"timeout", "rate_limited"}),
    permanent=frozenset({"account_closed"}),
)


class TestClassify:
    """Listed codes classify as listed; everything else follows the default."""

    @pytest.mark.parametrize("code", ["timeout", "rate_limited"])
    def test_retryable_codes_may_be_retried(self, code: str) -> None:
        """A code in the retryable set is retryable."""
        assert POLICY.classify(code) is True

    def test_permanent_codes_may_not_be_retried(self) -> None:
        """A code in the permanent set is permanent."""
        assert POLICY.classify("account_closed") is False

    def test_unknown_codes_are_permanent_by_default(self) -> None:
        """An unlisted code is never retried unless the policy says so."""
        assert POLICY.classify("something_new") is False

    def test_none_follows_the_default(self) -> None:
        """A failure without a code is treated as an unknown code."""
        assert POLICY.classify(None) is False
        assert FailurePolicy(default_retryable=True).classify(None) is True

    def test_default_retryable_makes_unknown_codes_retryable(self) -> None:
        """With default_retryable, only listed permanent codes are final."""
        lenient = FailurePolicy(permanent=frozenset({"account_closed"}), default_retryable=True)
        assert lenient.classify("something_new") is True
        assert lenient.classify("account_closed") is False

    def test_default_retryable_does_not_override_listed_permanent_codes(self) -> None:
        """A permanent code stays permanent whatever the default."""
        lenient = FailurePolicy(
            retryable=frozenset({"timeout"}),
            permanent=frozenset({"account_closed"}),
            default_retryable=True,
        )
        assert lenient.classify("timeout") is True
        assert lenient.classify("account_closed") is False

    def test_codes_are_matched_exactly(self) -> None:
        """Case and substrings do not match: 'Timeout' and 'time' are unknown codes."""
        assert POLICY.classify("Timeout") is False
        assert POLICY.classify("time") is False
        assert POLICY.classify("") is False

    def test_empty_policy_follows_the_default_for_everything(self) -> None:
        """A policy with no codes classifies by its default alone."""
        assert FailurePolicy().classify("rate_limited") is False
        assert FailurePolicy(default_retryable=True).classify("account_closed") is True


class TestConsistency:
    """A code cannot be both retryable and permanent."""

    def test_code_in_both_sets_is_refused(self) -> None:
        """The overlap is an inconsistent rule, named in the message."""
        with pytest.raises(InvalidRule, match="rate_limited"):
            FailurePolicy(
                retryable=frozenset({"rate_limited", "timeout"}),
                permanent=frozenset({"rate_limited", "account_closed"}),
            )

    def test_every_overlapping_code_is_named(self) -> None:
        """All codes listed twice appear in the message, sorted."""
        with pytest.raises(InvalidRule, match="a, b"):
            FailurePolicy(retryable=frozenset({"b", "a"}), permanent=frozenset({"a", "b"}))


class TestSimulatedCodes:
    """The simulated bank's default policy covers every failure code it emits."""

    @pytest.mark.parametrize("code", RETRYABLE_FATE_CODES)
    def test_retryable_fates_are_retryable(self, code: str) -> None:
        """A transient failure of the fake bank may be retried."""
        assert code in SIMULATED_CODES.retryable
        assert SIMULATED_CODES.classify(code) is True

    @pytest.mark.parametrize("code", [*PERMANENT_FATE_CODES, KEY_REUSED_CODE])
    def test_permanent_fates_are_permanent(self, code: str) -> None:
        """A permanent failure, and a reused key, are listed as permanent."""
        assert code in SIMULATED_CODES.permanent
        assert SIMULATED_CODES.classify(code) is False

    def test_a_return_is_not_a_retryable_failure(self) -> None:
        """The return code is never classified retryable."""
        assert SIMULATED_CODES.classify(RETURN_CODE) is False

    def test_unknown_codes_are_permanent(self) -> None:
        """The simulated policy keeps the safe default."""
        assert SIMULATED_CODES.default_retryable is False
        assert SIMULATED_CODES.classify("never_heard_of_it") is False
