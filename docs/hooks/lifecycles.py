"""MkDocs hook: state diagrams drawn from the lifecycle declarations, never by hand.

A page writes ``<!-- lifecycle: PayoutStatus -->`` and gets a Mermaid state
diagram of that machine, built from `settlement_core.lifecycle.transition_table`
(the same declarations the aggregates fire and bulk SQL updates ask), plus a
table of its transitions. A name that is not a lifecycle fails the build.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from settlement_core import lifecycle
from settlement_core.lifecycle import transition_table
from settlement_core.lifecycle.machines import MACHINES

MARKER = re.compile(r"<!--\s*lifecycle:\s*(\w+)\s*-->")
# Where each lifecycle starts: the state a new aggregate is created in.
INITIAL = {
    "AccountStatus": ["active"],
    "BillingItemStatus": ["pending"],
    "StatementStatus": ["open"],
    "PayoutStatus": ["pending_approval", "created"],
    "ReleaseSummaryStatus": ["created"],
    "DiscrepancyStatus": ["open"],
    "FreezeStatus": ["held"],
    "ChargeStatus": ["proposed"],
    "CollectionStatus": ["open"],
    # A run that needs no approval is approved when it is opened.
    "RunStatus": ["awaiting_approval", "approved"],
}


def lifecycle_states(name: str) -> type[enum.StrEnum]:
    """The state enum called `name`, if it has a machine; else ValueError."""
    states = getattr(lifecycle, name, None)
    if states is None or states not in MACHINES:
        raise ValueError(f"{name!r} is not a lifecycle of settlement_core.lifecycle")
    return states  # type: ignore[no-any-return]


def mermaid(name: str) -> str:
    """A Mermaid stateDiagram of the lifecycle `name`, one arrow per (source, trigger)."""
    states = lifecycle_states(name)
    lines = ["stateDiagram-v2"]
    lines += [f"    [*] --> {start}" for start in INITIAL.get(name, [])]
    sinks = {s.value for s in states}
    for trigger, source, dest in transition_table(states):
        lines.append(f"    {source.value} --> {dest.value}: {trigger}")
        sinks.discard(source.value)
    lines += [f"    {state} --> [*]" for state in sorted(sinks)]
    return "\n".join(lines)


def table(name: str) -> str:
    """The same transitions as a Markdown table: trigger, from, to."""
    rows = ["| trigger | from | to |", "|---|---|---|"]
    for trigger, source, dest in transition_table(lifecycle_states(name)):
        rows.append(f"| `{trigger}` | {source.value} | {dest.value} |")
    return "\n".join(rows)


def render(markdown: str) -> str:
    """Replace every lifecycle marker with its diagram and table."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"```mermaid\n{mermaid(name)}\n```\n\n{table(name)}\n"

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs' page hook."""
    return render(markdown)
