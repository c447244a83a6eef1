"""Which fee schedule prices an order: the business rule matcher (seed 004, 103-01).

A rule names a schedule, the order attributes it requires (tenant, business,
category, seller type, any string attribute), a priority and a validity window
``[valid_from, valid_to)``. Among the rules that match an order at its time:

1. the highest priority wins (an operator's explicit override, such as a
   promotion, beats everything below it);
2. then the most specific (the most required attributes);
3. then the latest ``valid_from`` (the newer agreement);
4. then the smallest rule id, so the choice never depends on definition order.

Two rules with the same priority and the same required attributes whose windows
overlap would contradict each other; they are refused when defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from attrs import field, frozen

from settlement_core.errors import InvalidRule
from settlement_core.fees.errors import NoMatchingSchedule
from settlement_core.fees.schedule import FeeSchedule
from settlement_core.rules.payout_rule import check_rule_id
from settlement_core.timestamps import require_aware

__all__ = ["ScheduleRule", "ScheduleMatcher"]

MatchPairs = tuple[tuple[str, str], ...]

# Stand-ins for an open window end, so every comparison is between datetimes.
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _match(value: Any) -> MatchPairs:
    # Sorted pairs: hashable, and equal whatever order the mapping was written in.
    if not isinstance(value, Mapping):
        raise InvalidRule(f"a rule's match must be a mapping, got {type(value).__name__}")
    for name, required in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidRule(f"match attribute names must be non-empty strings, got {name!r}")
        if not isinstance(required, str) or not required:
            raise InvalidRule(f"match value for {name!r} must be a non-empty string")
    return tuple(sorted(value.items()))


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidRule(f"a validity bound must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRule(f"a validity bound must be time-zone aware, got {value.isoformat()}")
    return value.astimezone(UTC)


def _rule_id(_instance: object, _attribute: object, value: Any) -> None:
    check_rule_id(value, "schedule rule id")


def _schedule(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, FeeSchedule):
        raise InvalidRule(f"a schedule rule needs a FeeSchedule, got {type(value).__name__}")


def _priority(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRule(f"a rule's priority must be an int, got {value!r}")


@frozen(kw_only=True)
class ScheduleRule:
    """Orders whose attributes include `match`, within the window, use `schedule`."""

    rule_id: str = field(validator=_rule_id)
    schedule: FeeSchedule = field(validator=_schedule)
    # Empty matches every order: a catch-all default.
    match: MatchPairs = field(factory=dict, converter=_match)
    # Higher wins.
    priority: int = field(default=0, validator=_priority)
    valid_from: datetime | None = field(default=None, converter=_instant)
    valid_to: datetime | None = field(default=None, converter=_instant)

    def __attrs_post_init__(self) -> None:
        start, end = self.valid_from, self.valid_to
        if start is not None and end is not None and start >= end:
            raise InvalidRule(
                f"rule {self.rule_id!r}: valid_from {start.isoformat()} must be "
                f"before valid_to {end.isoformat()}"
            )

    @property
    def window(self) -> tuple[datetime, datetime]:
        """[start, end) with open ends as the earliest and latest instants."""
        return (self.valid_from or _EARLIEST, self.valid_to or _LATEST)

    def matches(self, attributes: Mapping[str, str], at: datetime) -> bool:
        """True if every required attribute has its value and `at` is in the window."""
        start, end = self.window
        if not start <= at < end:
            return False
        return all(attributes.get(name) == required for name, required in self.match)

    def overlaps(self, other: ScheduleRule) -> bool:
        """True if both windows share at least one instant."""
        start, end = self.window
        other_start, other_end = other.window
        return start < other_end and other_start < end


def _preference(rule: ScheduleRule) -> tuple[int, int, datetime]:
    # Larger is better; the rule id breaks what is left (see `ScheduleMatcher.select`).
    return (rule.priority, len(rule.match), rule.window[0])


class ScheduleMatcher:
    """Schedule rules, checked as they are added, and the selection among them."""

    def __init__(self, rules: Iterable[ScheduleRule] = ()) -> None:
        """A matcher holding `rules` (each checked as by `add`)."""
        self._rules: dict[str, ScheduleRule] = {}
        for rule in rules:
            self.add(rule)

    @property
    def rules(self) -> tuple[ScheduleRule, ...]:
        """Every rule, in the order added."""
        return tuple(self._rules.values())

    def add(self, rule: ScheduleRule) -> None:
        """Add a rule; a duplicate id or a contradicting overlap raises InvalidRule."""
        if not isinstance(rule, ScheduleRule):
            raise InvalidRule(f"add() needs a ScheduleRule, got {type(rule).__name__}")
        if rule.rule_id in self._rules:
            raise InvalidRule(f"schedule rule {rule.rule_id!r} is already defined")
        for existing in self._rules.values():
            if (
                existing.priority == rule.priority
                and existing.match == rule.match
                and existing.overlaps(rule)
            ):
                raise InvalidRule(
                    f"schedule rules {existing.rule_id!r} and {rule.rule_id!r} have the same "
                    f"priority and match {dict(rule.match)} and overlap in time"
                )
        self._rules[rule.rule_id] = rule

    def select(self, attributes: Mapping[str, str], at: datetime) -> ScheduleRule:
        """The winning rule for these attributes at instant `at`; NoMatchingSchedule if none."""
        when = require_aware(at, "at")
        candidates = [rule for rule in self._rules.values() if rule.matches(attributes, when)]
        if not candidates:
            raise NoMatchingSchedule(
                f"no fee schedule matches {dict(sorted(attributes.items()))} at {when.isoformat()}"
            )
        best = max(_preference(rule) for rule in candidates)
        return min(
            (rule for rule in candidates if _preference(rule) == best),
            key=lambda rule: rule.rule_id,
        )
