"""One model-less state machine per aggregate type, and `fire()` to drive it.

The machines are configuration: aggregates keep their state in a plain enum
field and never have a machine bound to them (a bound machine costs ~13 KiB per
object and cannot decorate slotted attrs classes). `fire()` asks the machine
for the transition and sets the field; bulk changes in SQL ask `sources()`
which states a trigger may leave, so both paths follow one declaration.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol, TypeVar

from transitions import Machine

from settlement_core.errors import InvalidTransition
from settlement_core.lifecycle.states import (
    AccountStatus,
    BillingItemStatus,
    ChargeStatus,
    CollectionStatus,
    DiscrepancyStatus,
    FreezeStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    RunStatus,
    StatementStatus,
)

S = TypeVar("S", bound=enum.StrEnum)


class Stateful(Protocol[S]):
    """Anything with a `status` field driven by a lifecycle."""

    status: S


def _machine(
    states: type[enum.StrEnum], table: list[tuple[str, list[enum.StrEnum], enum.StrEnum]]
) -> Machine:
    # transitions reads an Enum member by its name; plain values keep one spelling everywhere.
    return Machine(
        model=None,
        states=[s.value for s in states],
        transitions=[
            {"trigger": trigger, "source": [s.value for s in sources], "dest": dest.value}
            for trigger, sources, dest in table
        ],
        initial=None,
        auto_transitions=False,
        send_event=False,
    )


A, Item, St, P, R = (
    AccountStatus,
    BillingItemStatus,
    StatementStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
)

MACHINES: Mapping[type[enum.StrEnum], Machine] = {
    AccountStatus: _machine(
        AccountStatus,
        [
            ("hold", [A.ACTIVE], A.HELD),
            ("release_hold", [A.HELD], A.ACTIVE),
        ],
    ),
    BillingItemStatus: _machine(
        BillingItemStatus,
        [
            ("statement", [Item.PENDING], Item.STATEMENTED),
            ("pay", [Item.STATEMENTED, Item.FAILED], Item.PAID),
            # A payout returned after it was paid fails its items again.
            ("fail", [Item.STATEMENTED, Item.PAID], Item.FAILED),
        ],
    ),
    StatementStatus: _machine(
        StatementStatus,
        [
            ("close", [St.OPEN], St.CLOSED),
            ("carry_forward", [St.CLOSED], St.CARRIED_FORWARD),
            ("pay_out", [St.CLOSED, St.CARRIED_FORWARD], St.PAID_OUT),
            # Its payout's money came back (cancelled, failed for good, returned): pay it again.
            ("return_to_balance", [St.PAID_OUT], St.CARRIED_FORWARD),
        ],
    ),
    PayoutStatus: _machine(
        PayoutStatus,
        [
            ("approve", [P.PENDING_APPROVAL], P.CREATED),
            ("submit", [P.CREATED], P.ONGOING),
            # No answer from the channel: never resend, ask it (R-REL-4).
            ("lose_track", [P.ONGOING], P.UNKNOWN),
            ("confirm", [P.UNKNOWN], P.ONGOING),
            ("settle", [P.ONGOING, P.UNKNOWN], P.PAID),
            ("fail", [P.ONGOING, P.UNKNOWN], P.FAILED),
            ("retry", [P.FAILED], P.ONGOING),
            ("give_up", [P.ONGOING, P.UNKNOWN, P.FAILED], P.FAILED_NO_RETRY),
            ("cancel", [P.PENDING_APPROVAL, P.CREATED], P.CANCELLED),
            ("return", [P.PAID], P.RETURNED),
        ],
    ),
    ReleaseSummaryStatus: _machine(
        ReleaseSummaryStatus,
        [
            ("fund", [R.CREATED], R.FUNDED),
            ("release", [R.FUNDED], R.RELEASED),
        ],
    ),
    DiscrepancyStatus: _machine(
        DiscrepancyStatus,
        [("resolve", [DiscrepancyStatus.OPEN], DiscrepancyStatus.RESOLVED)],
    ),
    FreezeStatus: _machine(
        FreezeStatus,
        [
            ("confirm", [FreezeStatus.HELD], FreezeStatus.CONFIRMED),
            ("cancel", [FreezeStatus.HELD], FreezeStatus.CANCELLED),
            ("expire", [FreezeStatus.HELD], FreezeStatus.EXPIRED),
        ],
    ),
    RunStatus: _machine(
        RunStatus,
        [
            ("approve", [RunStatus.AWAITING_APPROVAL], RunStatus.APPROVED),
            # A run is withdrawn before or after its audit, never once revoked.
            ("revoke", [RunStatus.AWAITING_APPROVAL, RunStatus.APPROVED], RunStatus.REVOKING),
            ("finish_revoking", [RunStatus.REVOKING], RunStatus.REVOKED),
        ],
    ),
    ChargeStatus: _machine(
        ChargeStatus,
        [
            ("approve", [ChargeStatus.PROPOSED], ChargeStatus.APPROVED),
            ("reject", [ChargeStatus.PROPOSED], ChargeStatus.REJECTED),
        ],
    ),
    CollectionStatus: _machine(
        CollectionStatus,
        [
            (
                "collect_part",
                [CollectionStatus.OPEN, CollectionStatus.PARTIALLY_COLLECTED],
                CollectionStatus.PARTIALLY_COLLECTED,
            ),
            (
                "collect_rest",
                [CollectionStatus.OPEN, CollectionStatus.PARTIALLY_COLLECTED],
                CollectionStatus.COLLECTED,
            ),
            (
                "offset",
                [CollectionStatus.OPEN, CollectionStatus.PARTIALLY_COLLECTED],
                CollectionStatus.OFFSET,
            ),
        ],
    ),
}


# (lifecycle, state, trigger) -> the state it leads to, as the machines answered: they
# are fixed once built, and asking `transitions` costs more than the move itself in bulk
# jobs. The lifecycle is part of the key: members of two StrEnums with one value are equal.
_NEXT: dict[tuple[type, enum.StrEnum, str], enum.StrEnum] = {}


def next_state(current: S, trigger: str) -> S:
    """The state `trigger` leads to from `current`, or InvalidTransition."""
    states = type(current)
    known = _NEXT.get((states, current, trigger))
    if known is not None:
        return known  # type: ignore[return-value]
    machine = MACHINES[states]
    found = machine.get_transitions(trigger=trigger, source=current.value)
    if not found:
        raise InvalidTransition(states.__name__.removesuffix("Status"), current.value, trigger)
    dest = _NEXT[(states, current, trigger)] = states(str(found[0].dest))
    return dest


def sources(states: type[S], trigger: str) -> frozenset[S]:
    """The states that `trigger` may leave (for set-based updates in storage)."""
    event = MACHINES[states].events.get(trigger)
    if event is None:
        raise InvalidTransition(states.__name__.removesuffix("Status"), "*", trigger)
    return frozenset(states(name) for name in event.transitions)


def destination(states: type[S], trigger: str) -> S:
    """The one state `trigger` leads to, whatever it leaves (for set-based updates)."""
    dests = {next_state(source, trigger) for source in sources(states, trigger)}
    if len(dests) != 1:
        raise ValueError(f"{trigger!r} leads to {len(dests)} states; a bulk move needs one")
    return dests.pop()


def triggers(current: enum.StrEnum) -> frozenset[str]:
    """The triggers allowed from `current`."""
    return frozenset(MACHINES[type(current)].get_triggers(current.value))


def transition_table(states: type[S]) -> list[tuple[str, S, S]]:
    """Every (trigger, source, dest) of a lifecycle, for docs and tests."""
    machine = MACHINES[states]
    return [
        (name, states(source), states(str(t.dest)))
        for name, event in machine.events.items()
        for source, found in event.transitions.items()
        for t in found
    ]
