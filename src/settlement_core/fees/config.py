"""A whole fee engine from plain data: schedules, the rules that pick them, and routes.

Fee configuration lives with the host (a JSON or TOML file, a database row,
an admin screen) and is loaded here, strictly: unknown keys, unknown schedule
names, bad formulas and unknown factors are refused when it is loaded, never
while an order is priced. Shape::

    {"schedules": [<schedule_from_config shape>, ...],
     "rules": [{"rule_id", "schedule": <name>, "match"?: {attr: value},
                "priority"?: int, "valid_from"?: ISO 8601, "valid_to"?: ISO 8601}],
     "routes": [{"tenant"?: "*", "business"?: "*", "fee", "party", "payer"?}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from settlement_core.errors import InvalidRule
from settlement_core.fees.calculators import CalculatorRegistry
from settlement_core.fees.engine import FeeEngine
from settlement_core.fees.matcher import ScheduleMatcher, ScheduleRule
from settlement_core.fees.routing import WILDCARD, Route, RoutingTable
from settlement_core.fees.schedule import FeeSchedule, schedule_from_config
from settlement_core.fees.values import config_mapping

__all__ = ["engine_from_config"]

_ENGINE_KEYS = frozenset({"schedules", "rules", "routes"})
_RULE_KEYS = frozenset({"rule_id", "schedule", "match", "priority", "valid_from", "valid_to"})
_ROUTE_KEYS = frozenset({"tenant", "business", "fee", "party", "payer"})


def _listed(config: Mapping[str, Any], key: str) -> list[Any]:
    value = config.get(key)
    if value is None or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRule(f"a fee configuration needs a list of {key}")
    return list(value)


def _instant(value: object, what: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise InvalidRule(f"{what} must be an ISO 8601 instant, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRule(f"{what} {value!r} is not an ISO 8601 instant") from None


def _rule(value: object, schedules: Mapping[str, FeeSchedule]) -> ScheduleRule:
    rule = config_mapping(value, "a schedule rule", _RULE_KEYS)
    rule_id: Any = rule.get("rule_id")
    name = rule.get("schedule")
    if not isinstance(name, str) or name not in schedules:
        known = ", ".join(sorted(schedules)) or "none"
        raise InvalidRule(f"rule {rule_id!r} names schedule {name!r}; defined: {known}")
    return ScheduleRule(
        rule_id=rule_id,
        schedule=schedules[name],
        match=rule.get("match", {}),
        priority=rule.get("priority", 0),
        valid_from=_instant(rule.get("valid_from"), f"rule {rule_id!r} valid_from"),
        valid_to=_instant(rule.get("valid_to"), f"rule {rule_id!r} valid_to"),
    )


def _route(value: object) -> Route:
    route = config_mapping(value, "a route", _ROUTE_KEYS)
    for key in ("fee", "party"):
        if key not in route:
            raise InvalidRule(f"a route needs {key!r}")
    return Route(
        tenant=route.get("tenant", WILDCARD),
        business=route.get("business", WILDCARD),
        fee=route["fee"],
        party=route["party"],
        payer=route.get("payer"),
    )


def engine_from_config(
    config: Mapping[str, Any], registry: CalculatorRegistry | None = None
) -> FeeEngine:
    """A FeeEngine from plain data, every part checked now (InvalidRule otherwise)."""
    checked = config_mapping(config, "a fee configuration", _ENGINE_KEYS)
    calculators = registry if registry is not None else CalculatorRegistry.with_builtins()
    schedules: dict[str, FeeSchedule] = {}
    for entry in _listed(checked, "schedules"):
        schedule = schedule_from_config(entry, calculators)
        if schedule.name in schedules:
            raise InvalidRule(f"schedule {schedule.name!r} is defined twice")
        schedules[schedule.name] = schedule
    rules = [_rule(entry, schedules) for entry in _listed(checked, "rules")]
    routes = [_route(entry) for entry in _listed(checked, "routes")]
    return FeeEngine(ScheduleMatcher(rules), RoutingTable(routes))
