"""Payout rules, segments and the versioned rule engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from settlement_core.errors import InvalidRule, InvalidTimestamp
from settlement_core.money import Money, money
from settlement_core.rules import Cycle, CycleKind, PayoutRule, RuleEngine, SegmentRule

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
JULY = datetime(2024, 7, 1, tzinfo=UTC)
AUGUST = datetime(2024, 8, 1, tzinfo=UTC)


def engine_with(*rule_ids: str, default: str = "default") -> RuleEngine:
    """An engine with a first version of the default and each named rule."""
    engine = RuleEngine(default)
    for rule_id in (default, *rule_ids):
        engine.define(PayoutRule(rule_id))
    return engine


class TestPayoutRule:
    """Construction and validation of one rule version."""

    def test_defaults(self) -> None:
        """A bare rule pays daily, automatically, in item currency, without delay."""
        rule = PayoutRule("standard")
        assert rule.version == 1
        assert rule.cycle == Cycle.daily()
        assert rule.auto_payment is True
        assert rule.payment_threshold is None
        assert rule.payment_currency is None
        assert rule.is_hold is False
        assert rule.delay_days == 0
        assert rule.negative_balance_limit is None
        assert rule.effective_from is None

    def test_full_rule_is_accepted(self) -> None:
        """Every attribute can be set."""
        rule = PayoutRule(
            "eu.pro:monthly-v2",
            version=3,
            cycle=Cycle.monthly(31),
            auto_payment=False,
            payment_threshold=money("50.00", "EUR"),
            payment_currency="EUR",
            is_hold=True,
            delay_days=3,
            negative_balance_limit=money("200.00", "EUR"),
            effective_from=datetime(2024, 7, 1, 2, tzinfo=ZoneInfo("Europe/Berlin")),
        )
        assert rule.cycle.kind is CycleKind.MONTHLY
        assert rule.payment_currency == "EUR"
        assert rule.effective_from == datetime(2024, 7, 1, tzinfo=UTC)
        assert rule.effective_from is not None
        assert rule.effective_from.tzinfo is UTC

    def test_rules_are_hashable_values(self) -> None:
        """Equal rules are equal and hash equal."""
        first = PayoutRule("r", payment_threshold=money("10.00", "USD"))
        second = PayoutRule("r", payment_threshold=money("10.00", "USD"))
        assert first == second
        assert hash(first) == hash(second)

    def test_zero_threshold_and_limit_are_allowed(self) -> None:
        """Zero is a valid threshold and a valid (no debt) limit."""
        rule = PayoutRule(
            "r", payment_threshold=money("0", "JPY"), negative_balance_limit=money("0", "USD")
        )
        assert rule.negative_balance_limit == money("0.00", "USD")

    @pytest.mark.parametrize("rule_id", ["", "a" * 65, "has space", "semi;colon", "ümlaut", 7])
    def test_bad_rule_id_is_refused(self, rule_id: Any) -> None:
        """Rule ids are 1-64 characters of letters, digits and _ . : -."""
        with pytest.raises(InvalidRule, match="rule_id"):
            PayoutRule(rule_id)

    def test_longest_rule_id_is_accepted(self) -> None:
        """64 characters is the limit."""
        assert PayoutRule("a" * 64).rule_id == "a" * 64

    @pytest.mark.parametrize("version", [0, -1, True])
    def test_bad_version_is_refused(self, version: Any) -> None:
        """Versions are ints from 1."""
        with pytest.raises(InvalidRule, match="version"):
            PayoutRule("r", version=version)

    @pytest.mark.parametrize("delay", [-1, True, "2"])
    def test_bad_delay_is_refused(self, delay: Any) -> None:
        """The payout delay is a non-negative int."""
        with pytest.raises(InvalidRule, match="delay_days"):
            PayoutRule("r", delay_days=delay)

    @pytest.mark.parametrize("currency", ["ZZZ", "eur", "EURO", "", "XAU", 978])
    def test_bad_payment_currency_is_refused(self, currency: Any) -> None:
        """The payment currency is an upper-case ISO 4217 code we can settle in."""
        with pytest.raises(InvalidRule, match="payment_currency"):
            PayoutRule("r", payment_currency=currency)

    def test_negative_threshold_is_refused(self) -> None:
        """A negative payment threshold raises InvalidRule."""
        with pytest.raises(InvalidRule, match="payment_threshold"):
            PayoutRule("r", payment_threshold=money("-1.00", "EUR"))

    def test_threshold_with_excess_precision_is_refused(self) -> None:
        """A threshold with more digits than its currency allows raises InvalidRule."""
        with pytest.raises(InvalidRule, match="payment_threshold"):
            PayoutRule("r", payment_threshold=Money(Decimal("1.001"), "EUR"))

    def test_threshold_must_be_money(self) -> None:
        """A bare number is not a threshold."""
        with pytest.raises(InvalidRule, match="payment_threshold"):
            PayoutRule("r", payment_threshold=Decimal(10))  # type: ignore[arg-type]

    def test_negative_balance_limit_must_not_be_negative(self) -> None:
        """The debt limit is expressed as a non-negative amount."""
        with pytest.raises(InvalidRule, match="negative_balance_limit"):
            PayoutRule("r", negative_balance_limit=money("-100.00", "USD"))

    def test_naive_effective_from_is_refused(self) -> None:
        """effective_from must be time-zone aware."""
        with pytest.raises(InvalidRule, match="effective_from"):
            PayoutRule("r", effective_from=datetime(2024, 1, 1))

    @pytest.mark.parametrize("field", ["auto_payment", "is_hold"])
    def test_flags_must_be_booleans(self, field: str) -> None:
        """A truthy string does not switch a flag on."""
        kwargs: dict[str, Any] = {field: "false"}
        with pytest.raises(InvalidRule, match=field):
            PayoutRule("r", **kwargs)

    def test_cycle_must_be_a_cycle(self) -> None:
        """A cycle kind alone is not a cycle."""
        with pytest.raises(InvalidRule, match="cycle"):
            PayoutRule("r", cycle=CycleKind.DAILY)  # type: ignore[arg-type]


class TestSegmentRule:
    """Matching segments."""

    def test_empty_match_is_refused(self) -> None:
        """An empty match would match everyone; the default exists for that."""
        with pytest.raises(InvalidRule, match="default"):
            SegmentRule("r", 1, {})

    def test_match_is_frozen_and_order_independent(self) -> None:
        """The match is stored as sorted pairs, so segments are hashable values."""
        first = SegmentRule("r", 1, {"region": "EU", "tenant_id": "t1"})
        second = SegmentRule("r", 1, {"tenant_id": "t1", "region": "EU"})
        assert first.match == (("region", "EU"), ("tenant_id", "t1"))
        assert first == second
        assert hash(first) == hash(second)

    @pytest.mark.parametrize("match", [{"region": ""}, {"": "EU"}, {"region": 1}])
    def test_empty_or_non_string_pairs_are_refused(self, match: Any) -> None:
        """Names and values are non-empty strings."""
        with pytest.raises(InvalidRule, match="segment"):
            SegmentRule("r", 1, match)

    def test_priority_must_be_an_int(self) -> None:
        """Priorities are ints."""
        with pytest.raises(InvalidRule, match="priority"):
            SegmentRule("r", "1", {"region": "EU"})  # type: ignore[arg-type]

    def test_matches_requires_every_pair(self) -> None:
        """All pairs must be equal; extra account attributes are fine."""
        segment = SegmentRule("r", 1, {"region": "EU", "seller_type": "pro"})
        assert segment.matches({"region": "EU", "seller_type": "pro", "tenant_id": "t1"})
        assert not segment.matches({"region": "EU"})
        assert not segment.matches({"region": "EU", "seller_type": "casual"})


class TestSelection:
    """Override, then segment by priority, then default."""

    def test_default_applies_when_nothing_else_does(self) -> None:
        """No override and no matching segment selects the default."""
        engine = engine_with("eu")
        engine.add_segment(SegmentRule("eu", 10, {"region": "EU"}))
        assert engine.select({"region": "US"}, None, NOW).rule_id == "default"

    def test_matching_segment_beats_the_default(self) -> None:
        """A matching segment selects its rule."""
        engine = engine_with("eu")
        engine.add_segment(SegmentRule("eu", 10, {"region": "EU"}))
        assert engine.select({"region": "EU", "tenant_id": "t1"}, None, NOW).rule_id == "eu"

    def test_override_beats_a_matching_segment(self) -> None:
        """An explicit override wins over everything."""
        engine = engine_with("eu", "vip")
        engine.add_segment(SegmentRule("eu", 10, {"region": "EU"}))
        assert engine.select({"region": "EU"}, "vip", NOW).rule_id == "vip"

    def test_lowest_priority_number_wins_regardless_of_insertion_order(self) -> None:
        """Segments are considered by ascending priority."""
        engine = engine_with("eu", "eu_pro")
        engine.add_segment(SegmentRule("eu", 20, {"region": "EU"}))
        engine.add_segment(SegmentRule("eu_pro", 5, {"region": "EU", "seller_type": "pro"}))
        assert engine.select({"region": "EU", "seller_type": "pro"}, None, NOW).rule_id == "eu_pro"
        assert engine.select({"region": "EU", "seller_type": "new"}, None, NOW).rule_id == "eu"
        assert [s.priority for s in engine.segments] == [5, 20]

    def test_partial_match_is_not_selected(self) -> None:
        """A segment whose pairs are only partly present does not match."""
        engine = engine_with("t1_eu_pro")
        engine.add_segment(
            SegmentRule("t1_eu_pro", 1, {"tenant_id": "t1", "region": "EU", "seller_type": "pro"})
        )
        selected = engine.select({"tenant_id": "t1", "region": "EU"}, None, NOW)
        assert selected.rule_id == "default"

    def test_unknown_override_is_refused(self) -> None:
        """An override naming an undefined rule raises InvalidRule."""
        with pytest.raises(InvalidRule, match="unknown rule"):
            engine_with().select({}, "nope", NOW)

    def test_undefined_default_is_refused_on_select(self) -> None:
        """Falling through to an undefined default raises InvalidRule."""
        with pytest.raises(InvalidRule, match="unknown rule"):
            RuleEngine("default").select({}, None, NOW)


class TestVersions:
    """Rule versions take effect at their effective_from instant."""

    @staticmethod
    def versioned() -> RuleEngine:
        """Default rule: v1 since ever, v2 from July, v3 from August."""
        engine = RuleEngine("default")
        engine.define(PayoutRule("default", version=1))
        engine.define(PayoutRule("default", version=2, delay_days=2, effective_from=JULY))
        engine.define(PayoutRule("default", version=3, delay_days=3, effective_from=AUGUST))
        return engine

    @pytest.mark.parametrize(
        ("at", "version"),
        [
            (NOW, 1),
            (JULY - timedelta(microseconds=1), 1),
            (JULY, 2),
            (AUGUST - timedelta(seconds=1), 2),
            (AUGUST, 3),
            (datetime(2030, 1, 1, tzinfo=UTC), 3),
        ],
    )
    def test_version_in_effect_at_an_instant(self, at: datetime, version: int) -> None:
        """The latest version whose effective_from is not after `at` applies."""
        assert self.versioned().rule("default", at).version == version

    def test_instants_in_other_zones_compare_as_instants(self) -> None:
        """02:00 on 1 July in Berlin is midnight UTC, when v2 starts."""
        at = datetime(2024, 7, 1, 2, tzinfo=ZoneInfo("Europe/Berlin"))
        assert self.versioned().rule("default", at).version == 2

    def test_select_returns_the_version_in_effect(self) -> None:
        """Selection answers with the version in effect at `at`."""
        engine = self.versioned()
        assert engine.select({}, None, AUGUST).delay_days == 3

    def test_earliest_version_applies_before_any_takes_effect(self) -> None:
        """If the first version starts later, it is still the answer before then."""
        engine = RuleEngine("default")
        engine.define(PayoutRule("default", version=1, effective_from=JULY))
        assert engine.rule("default", NOW).version == 1

    def test_identical_redefinition_is_a_no_op(self) -> None:
        """Re-defining the same (rule_id, version) with the same content is idempotent."""
        engine = self.versioned()
        engine.define(PayoutRule("default", version=2, delay_days=2, effective_from=JULY))
        assert [rule.version for rule in engine.versions("default")] == [1, 2, 3]

    def test_conflicting_redefinition_is_refused(self) -> None:
        """The same (rule_id, version) with different content raises InvalidRule."""
        engine = self.versioned()
        with pytest.raises(InvalidRule, match="different content"):
            engine.define(PayoutRule("default", version=2, delay_days=5, effective_from=JULY))

    def test_versions_must_increase(self) -> None:
        """A version below the latest one is refused."""
        engine = RuleEngine("default")
        engine.define(PayoutRule("default", version=3))
        with pytest.raises(InvalidRule, match="greater"):
            engine.define(PayoutRule("default", version=2, effective_from=JULY))

    def test_effective_from_must_increase(self) -> None:
        """A later version cannot take effect at or before its predecessor."""
        engine = RuleEngine("default")
        engine.define(PayoutRule("default", version=1, effective_from=AUGUST))
        with pytest.raises(InvalidRule, match="take effect after"):
            engine.define(PayoutRule("default", version=2, effective_from=AUGUST))
        with pytest.raises(InvalidRule, match="take effect after"):
            engine.define(PayoutRule("default", version=2, effective_from=JULY))

    def test_only_the_first_version_may_omit_effective_from(self) -> None:
        """A later version without effective_from is refused."""
        engine = RuleEngine("default")
        engine.define(PayoutRule("default", version=1))
        with pytest.raises(InvalidRule, match="effective_from"):
            engine.define(PayoutRule("default", version=2))

    def test_naive_instant_is_refused(self) -> None:
        """Asking about a naive instant raises InvalidTimestamp."""
        with pytest.raises(InvalidTimestamp):
            self.versioned().rule("default", datetime(2024, 7, 1))

    def test_unknown_rule_id_is_refused(self) -> None:
        """An undefined rule id raises InvalidRule."""
        with pytest.raises(InvalidRule, match="unknown rule"):
            self.versioned().rule("other", NOW)


class TestEngineConfiguration:
    """Segments and whole-engine validation."""

    def test_segment_for_an_undefined_rule_is_refused(self) -> None:
        """add_segment needs its rule defined first."""
        with pytest.raises(InvalidRule, match="unknown rule"):
            engine_with().add_segment(SegmentRule("eu", 1, {"region": "EU"}))

    def test_duplicate_priority_is_refused(self) -> None:
        """Two segments cannot share a priority."""
        engine = engine_with("eu", "us")
        engine.add_segment(SegmentRule("eu", 1, {"region": "EU"}))
        with pytest.raises(InvalidRule, match="priority 1"):
            engine.add_segment(SegmentRule("us", 1, {"region": "US"}))

    def test_validate_requires_the_default_rule(self) -> None:
        """An engine whose default is undefined is invalid."""
        engine = RuleEngine("default")
        engine.define(PayoutRule("other"))
        with pytest.raises(InvalidRule, match="default rule"):
            engine.validate()

    def test_validate_accepts_a_complete_engine(self) -> None:
        """Default and segment rules defined: validate passes."""
        engine = engine_with("eu")
        engine.add_segment(SegmentRule("eu", 1, {"region": "EU"}))
        engine.validate()
        assert engine.default_rule_id == "default"

    def test_bad_default_rule_id_is_refused(self) -> None:
        """The default rule id follows the rule id format."""
        with pytest.raises(InvalidRule, match="default_rule_id"):
            RuleEngine("no spaces allowed")

    def test_define_requires_a_payout_rule(self) -> None:
        """Anything but a PayoutRule is refused."""
        with pytest.raises(InvalidRule, match="PayoutRule"):
            RuleEngine("default").define("default")  # type: ignore[arg-type]
