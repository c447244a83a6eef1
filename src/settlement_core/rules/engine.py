"""The rule engine: which payout rule applies to an account, and which version (R-RULE-2).

Selection order: an explicit override (a rule id pinned on the account), then
the first matching segment by priority (a segment matches when every one of its
attributes equals the account's), then the default rule.

Versioning: each rule id has a strictly increasing series of versions, each
taking effect at its ``effective_from`` instant. The engine only answers "which
version was in effect at instant t". Callers snapshot the selected `PayoutRule`
on each statement when the statement opens, so a new version applies from the
next cycle: a statement already open keeps the version it was opened with.

The engine is configured at start-up (``define``, ``add_segment``, ``validate``)
and read afterwards; it does no I/O and reads no clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from settlement_core.errors import InvalidRule
from settlement_core.rules.payout_rule import PayoutRule, check_rule_id
from settlement_core.timestamps import require_aware

MatchPairs = tuple[tuple[str, str], ...]


def _freeze_match(value: Mapping[str, str]) -> MatchPairs:
    # Sorted pairs make the segment hashable and its equality independent of dict order.
    if not isinstance(value, Mapping):
        raise InvalidRule(f"segment match must be a mapping, got {type(value).__name__}")
    if not value:
        raise InvalidRule("segment match must not be empty; use the default rule instead")
    for name, required in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidRule(f"segment attribute name must be a non-empty string, got {name!r}")
        if not isinstance(required, str) or not required:
            raise InvalidRule(f"segment value for {name!r} must be a non-empty string")
    return tuple(sorted(value.items()))


def _validate_priority(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRule(f"segment priority must be an int, got {value!r}")


def _validate_rule_id(_instance: object, _attribute: object, value: Any) -> None:
    check_rule_id(value)


@frozen
class SegmentRule:
    """Accounts whose attributes include every pair in `match` get rule `rule_id`."""

    rule_id: str = field(validator=_validate_rule_id)
    # Lower numbers are considered first.
    priority: int = field(validator=_validate_priority)
    match: MatchPairs = field(converter=_freeze_match)

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Return True if every required attribute is present in `attributes` with its value."""
        return all(attributes.get(name) == required for name, required in self.match)


class RuleEngine:
    """Holds versioned payout rules and segments, and selects the rule for an account."""

    def __init__(self, default_rule_id: str) -> None:
        """Create an engine whose fallback is `default_rule_id` (define it before use)."""
        self._default = check_rule_id(default_rule_id, "default_rule_id")
        self._versions: dict[str, list[PayoutRule]] = {}
        self._segments: list[SegmentRule] = []

    @property
    def default_rule_id(self) -> str:
        """The rule id used when neither an override nor a segment applies."""
        return self._default

    @property
    def segments(self) -> tuple[SegmentRule, ...]:
        """The segments in the order they are considered (by priority)."""
        return tuple(self._segments)

    def versions(self, rule_id: str) -> tuple[PayoutRule, ...]:
        """Every defined version of `rule_id`, oldest first; unknown ids raise InvalidRule."""
        return tuple(self._known(rule_id))

    def define(self, rule: PayoutRule) -> None:
        """Add a rule version; an identical re-definition is a no-op."""
        if not isinstance(rule, PayoutRule):
            raise InvalidRule(f"define() needs a PayoutRule, got {type(rule).__name__}")
        versions = self._versions.get(rule.rule_id, [])
        for existing in versions:
            if existing.version == rule.version:
                if existing == rule:
                    return  # replayed configuration: idempotent
                raise InvalidRule(
                    f"rule {rule.rule_id!r} version {rule.version} is already defined "
                    "with different content; define a new version instead"
                )
        if versions:
            last = versions[-1]
            if rule.version <= last.version:
                raise InvalidRule(
                    f"rule {rule.rule_id!r} version {rule.version} must be greater than "
                    f"the latest version {last.version}"
                )
            # Only the first version may be in effect "since ever"; later ones need a start
            # instant after their predecessor's, or "in effect at t" would be ambiguous.
            if rule.effective_from is None:
                raise InvalidRule(
                    f"rule {rule.rule_id!r} version {rule.version} needs an effective_from"
                )
            if last.effective_from is not None and rule.effective_from <= last.effective_from:
                raise InvalidRule(
                    f"rule {rule.rule_id!r} version {rule.version} must take effect after "
                    f"version {last.version} ({last.effective_from.isoformat()})"
                )
        self._versions.setdefault(rule.rule_id, []).append(rule)

    def add_segment(self, segment: SegmentRule) -> None:
        """Add a segment; its rule must be defined and its priority unused."""
        if not isinstance(segment, SegmentRule):
            raise InvalidRule(f"add_segment() needs a SegmentRule, got {type(segment).__name__}")
        self._known(segment.rule_id)
        for existing in self._segments:
            if existing.priority == segment.priority:
                raise InvalidRule(
                    f"segment priority {segment.priority} is already used by a segment "
                    f"for rule {existing.rule_id!r}"
                )
        bisect.insort(self._segments, segment, key=lambda s: s.priority)

    def rule(self, rule_id: str, at: datetime) -> PayoutRule:
        """Return the version of `rule_id` in effect at instant `at`."""
        at = require_aware(at, "at")
        versions = self._known(rule_id)
        in_effect = versions[0]  # before the first version starts, it still applies
        for version in versions:
            if version.effective_from is None or version.effective_from <= at:
                in_effect = version
            else:
                break  # effective_from strictly increases, so nothing later applies
        return in_effect

    def select(
        self, attributes: Mapping[str, str], override: str | None, at: datetime
    ) -> PayoutRule:
        """Return the rule for an account: override, else first matching segment, else default."""
        if override is not None:
            return self.rule(override, at)
        for segment in self._segments:
            if segment.matches(attributes):
                return self.rule(segment.rule_id, at)
        return self.rule(self._default, at)

    def validate(self) -> None:
        """Raise InvalidRule unless the default rule and every segment's rule are defined."""
        if self._default not in self._versions:
            raise InvalidRule(f"default rule {self._default!r} is not defined")
        for segment in self._segments:
            if segment.rule_id not in self._versions:
                raise InvalidRule(
                    f"segment priority {segment.priority} uses undefined rule {segment.rule_id!r}"
                )

    def _known(self, rule_id: str) -> list[PayoutRule]:
        versions = self._versions.get(rule_id) if isinstance(rule_id, str) else None
        if not versions:
            raise InvalidRule(f"unknown rule id {rule_id!r}")
        return versions
