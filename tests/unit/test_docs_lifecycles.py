"""The docs' state diagrams are drawn from the machines themselves (docs/hooks/lifecycles.py)."""

from __future__ import annotations

import enum

import pytest
from lifecycles import INITIAL, mermaid, render, table

from settlement_core.lifecycle import transition_table
from settlement_core.lifecycle.machines import MACHINES


@pytest.mark.parametrize("states", list(MACHINES), ids=lambda s: s.__name__)
def test_every_declared_transition_is_drawn_and_tabled(states: type[enum.StrEnum]) -> None:
    """One arrow and one table row per (trigger, source, destination), nothing else."""
    name = states.__name__
    drawn = mermaid(name).splitlines()
    arrows = {line.strip() for line in drawn if "-->" in line and "[*]" not in line}
    expected = {f"{s.value} --> {d.value}: {t}" for t, s, d in transition_table(states)}
    assert arrows == expected
    rows = table(name).splitlines()[2:]
    assert len(rows) == len(expected)


@pytest.mark.parametrize("name", sorted(INITIAL))
def test_initial_states_are_states_of_their_lifecycle(name: str) -> None:
    """A start arrow never names a state the machine does not have."""
    states = next(s for s in MACHINES if s.__name__ == name)
    assert set(INITIAL[name]) <= {s.value for s in states}


def test_every_lifecycle_has_a_start_and_markers_become_diagrams() -> None:
    """Each machine has its start state listed; a page marker turns into a mermaid block."""
    assert {s.__name__ for s in MACHINES} == set(INITIAL)
    page = render("# Payouts\n<!-- lifecycle: PayoutStatus -->\n")
    assert "```mermaid\nstateDiagram-v2\n" in page
    assert "unknown --> ongoing: confirm" in page
    with pytest.raises(ValueError, match="not a lifecycle"):
        render("<!-- lifecycle: Nonsense -->")
