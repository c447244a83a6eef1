"""The lifecycles match DOMAIN.md exactly, and illegal moves are typed errors."""

from __future__ import annotations

import enum

import pytest

from settlement_core.errors import InvalidTransition
from settlement_core.lifecycle import (
    AccountStatus,
    BillingItemStatus,
    ChargeStatus,
    DiscrepancyStatus,
    FreezeStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    RunStatus,
    StatementStatus,
    destination,
    next_state,
    sources,
    transition_table,
    triggers,
)

P = PayoutStatus
DOCUMENTED: dict[type[enum.StrEnum], set[tuple[str, str, str]]] = {
    AccountStatus: {("hold", "active", "held"), ("release_hold", "held", "active")},
    BillingItemStatus: {
        ("statement", "pending", "statemented"),
        ("pay", "statemented", "paid"),
        ("pay", "failed", "paid"),
        ("fail", "statemented", "failed"),
        ("fail", "paid", "failed"),
    },
    StatementStatus: {
        ("close", "open", "closed"),
        ("carry_forward", "closed", "carried_forward"),
        ("pay_out", "closed", "paid_out"),
        ("pay_out", "carried_forward", "paid_out"),
        ("return_to_balance", "paid_out", "carried_forward"),
    },
    PayoutStatus: {
        ("approve", "pending_approval", "created"),
        ("submit", "created", "ongoing"),
        ("lose_track", "ongoing", "unknown"),
        ("confirm", "unknown", "ongoing"),
        ("settle", "ongoing", "paid"),
        ("settle", "unknown", "paid"),
        ("fail", "ongoing", "failed"),
        ("fail", "unknown", "failed"),
        ("retry", "failed", "ongoing"),
        ("give_up", "ongoing", "failed_no_retry"),
        ("give_up", "unknown", "failed_no_retry"),
        ("give_up", "failed", "failed_no_retry"),
        ("cancel", "pending_approval", "cancelled"),
        ("cancel", "created", "cancelled"),
        ("return", "paid", "returned"),
    },
    ReleaseSummaryStatus: {("fund", "created", "funded"), ("release", "funded", "released")},
    DiscrepancyStatus: {("resolve", "open", "resolved")},
    FreezeStatus: {
        ("confirm", "held", "confirmed"),
        ("cancel", "held", "cancelled"),
        ("expire", "held", "expired"),
    },
    ChargeStatus: {("approve", "proposed", "approved"), ("reject", "proposed", "rejected")},
    RunStatus: {
        ("approve", "awaiting_approval", "approved"),
        ("revoke", "awaiting_approval", "revoking"),
        ("revoke", "approved", "revoking"),
        ("finish_revoking", "revoking", "revoked"),
    },
}


class TestTransitionTables:
    """Each machine declares exactly the documented transitions."""

    @pytest.mark.parametrize("states", list(DOCUMENTED))
    def test_machine_matches_the_documented_table(self, states: type[enum.StrEnum]) -> None:
        """No transition is missing, none is extra (no auto `to_*` triggers)."""
        actual = {(t, s.value, d.value) for t, s, d in transition_table(states)}
        assert actual == DOCUMENTED[states]

    @pytest.mark.parametrize("states", list(DOCUMENTED))
    def test_every_undocumented_move_is_refused(self, states: type[enum.StrEnum]) -> None:
        """Every (state, trigger) pair outside the table raises InvalidTransition."""
        names = {t for t, _, _ in DOCUMENTED[states]}
        for state in states:
            for trigger in names:
                legal = {(t, s) for t, s, _ in DOCUMENTED[states]}
                if (trigger, state.value) in legal:
                    continue
                with pytest.raises(InvalidTransition):
                    next_state(state, trigger)


class TestHelpers:
    """The helpers used by set-based updates and by docs."""

    def test_sources_lists_the_states_a_trigger_leaves(self) -> None:
        """cancel may leave pending_approval and created only."""
        assert sources(P, "cancel") == {P.PENDING_APPROVAL, P.CREATED}

    def test_unknown_trigger_is_an_invalid_transition(self) -> None:
        """A trigger the machine does not know is refused with the aggregate's name."""
        with pytest.raises(InvalidTransition, match="Payout"):
            sources(P, "teleport")

    def test_destination_is_the_one_state_a_bulk_move_reaches(self) -> None:
        """pay leads items to paid from statemented and from failed alike."""
        assert destination(BillingItemStatus, "pay") is BillingItemStatus.PAID

    def test_triggers_from_a_state(self) -> None:
        """A failed payout can be retried or given up."""
        assert triggers(P.FAILED) == {"retry", "give_up"}

    def test_error_names_state_and_trigger(self) -> None:
        """The message says what was asked of what."""
        with pytest.raises(InvalidTransition) as caught:
            next_state(P.PAID, "submit")
        assert (caught.value.aggregate, caught.value.state, caught.value.trigger) == (
            "Payout",
            "paid",
            "submit",
        )
