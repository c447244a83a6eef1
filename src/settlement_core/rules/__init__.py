"""Payout rules, the rule engine, cycles and business calendars (R-RULE-1, R-RULE-2, R-CYC-1).

Pure domain code: no I/O and no clock; every instant comes in as an argument.
"""

from settlement_core.rules.calendar import BusinessCalendar, WeekendCalendar, next_business_day
from settlement_core.rules.channel_policy import ChannelPolicy
from settlement_core.rules.cycles import Cycle, CycleKind, Period, payout_date, resolve_zone
from settlement_core.rules.engine import RuleEngine, SegmentRule
from settlement_core.rules.payout_rule import PayoutRule

__all__ = [
    "PayoutRule",
    "RuleEngine",
    "SegmentRule",
    "Cycle",
    "CycleKind",
    "Period",
    "payout_date",
    "resolve_zone",
    "BusinessCalendar",
    "WeekendCalendar",
    "next_business_day",
    "ChannelPolicy",
]
