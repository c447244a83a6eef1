"""The column holding a statement's rule snapshot: JSON text, converted once per distinct rule.

Every statement carries the rule it opened under, and ingest reads and writes
thousands of statements per batch that share a handful of rules. Converting
the same rule to and from JSON for each of them was a large share of ingest's
cost, so both directions are cached: by the (frozen, hashable) rule on the way
in, by the stored text on the way out. A rule is rebuilt through its
constructor, so its validators still run once for every text read.
"""

from __future__ import annotations

import json
from functools import lru_cache

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from settlement_adapters.sqla.mapping import rule_from_json, rule_to_json
from settlement_adapters.sqla.types import json_text
from settlement_core.rules import PayoutRule

# Distinct rule versions in use at once; a miss only costs one conversion.
_CACHED = 4096


class RuleSnapshot(TypeDecorator[PayoutRule]):
    """A PayoutRule stored as canonical JSON text (sorted keys), read back as a PayoutRule."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: PayoutRule | None, dialect: Dialect) -> str | None:
        """The rule's canonical JSON text."""
        return None if value is None else rule_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> PayoutRule | None:
        """The rule the text describes."""
        return None if value is None else rule_from_text(value)


@lru_cache(maxsize=_CACHED)
def rule_text(rule: PayoutRule) -> str:
    """Canonical JSON of a rule (the same text JsonText would store)."""
    return json_text(rule_to_json(rule))


@lru_cache(maxsize=_CACHED)
def rule_from_text(text: str) -> PayoutRule:
    """The rule stored as `text`."""
    return rule_from_json(json.loads(text))
