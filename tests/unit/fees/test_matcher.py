"""Choosing the fee schedule for an order: matching, priority, validity and tie-breaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from settlement_core.errors import InvalidRule, InvalidTimestamp, NotFound
from settlement_core.fees import Fee, FeeSchedule, NoMatchingSchedule, ScheduleMatcher, ScheduleRule
from settlement_core.money import Rounding

JUNE = datetime(2024, 6, 1, tzinfo=UTC)
JULY = datetime(2024, 7, 1, tzinfo=UTC)
AUGUST = datetime(2024, 8, 1, tzinfo=UTC)
BOOKS = {"tenant": "t1", "business": "retail", "category": "books", "seller_type": "pro"}


def schedule(name: str) -> FeeSchedule:
    """A one-fee schedule named `name`."""
    return FeeSchedule(
        name=name, factors=("price",), fees=(Fee("commission", "price", Rounding.HALF_UP),)
    )


def rule(rule_id: str, match: dict[str, str] | None = None, **kwargs: Any) -> ScheduleRule:
    """A rule using a schedule named after it."""
    return ScheduleRule(rule_id=rule_id, schedule=schedule(rule_id), match=match or {}, **kwargs)


def chosen(matcher: ScheduleMatcher, attributes: dict[str, str], at: datetime = JUNE) -> str:
    """The id of the rule the matcher selects."""
    return matcher.select(attributes, at).rule_id


class TestSelection:
    """Which rule wins."""

    def test_catch_all_applies_when_nothing_else_matches(self) -> None:
        """An empty match is the default."""
        matcher = ScheduleMatcher([rule("default"), rule("food", {"category": "food"})])
        assert chosen(matcher, BOOKS) == "default"

    def test_every_required_attribute_must_match(self) -> None:
        """A partial match does not count."""
        matcher = ScheduleMatcher([rule("pro_food", {"category": "food", "seller_type": "pro"})])
        with pytest.raises(NoMatchingSchedule):
            chosen(matcher, BOOKS)

    def test_more_specific_rule_wins_at_equal_priority(self) -> None:
        """Two required attributes beat one, which beats none."""
        matcher = ScheduleMatcher(
            [
                rule("tenant", {"tenant": "t1"}),
                rule("books_pro", {"category": "books", "seller_type": "pro"}),
                rule("default"),
            ]
        )
        assert chosen(matcher, BOOKS) == "books_pro"
        assert chosen(matcher, {**BOOKS, "seller_type": "new"}) == "tenant"

    def test_higher_priority_beats_specificity(self) -> None:
        """A promotion at priority 10 overrides a more specific rule at 0."""
        matcher = ScheduleMatcher(
            [
                rule("books", {"tenant": "t1", "category": "books"}),
                rule("promo", {"tenant": "t1"}, priority=10, valid_from=JUNE, valid_to=JULY),
            ]
        )
        assert chosen(matcher, BOOKS, JUNE) == "promo"
        assert chosen(matcher, BOOKS, JULY) == "books"

    def test_newer_rule_wins_a_tie(self) -> None:
        """Equal priority and specificity: the later valid_from wins."""
        matcher = ScheduleMatcher(
            [
                rule("old", {"category": "books"}, valid_from=JUNE),
                rule("new", {"seller_type": "pro"}, valid_from=JULY),
            ]
        )
        assert chosen(matcher, BOOKS, JUNE + timedelta(days=40)) == "new"
        assert chosen(matcher, BOOKS, JUNE) == "old"

    def test_rule_id_breaks_the_last_tie_whatever_the_order(self) -> None:
        """Identical preference: the smallest rule id, independent of insertion order."""
        first = rule("b-category", {"category": "books"})
        second = rule("a-seller", {"seller_type": "pro"})
        assert chosen(ScheduleMatcher([first, second]), BOOKS) == "a-seller"
        assert chosen(ScheduleMatcher([second, first]), BOOKS) == "a-seller"

    def test_validity_window_is_half_open(self) -> None:
        """valid_from is included, valid_to is not."""
        matcher = ScheduleMatcher([rule("june", valid_from=JUNE, valid_to=JULY)])
        assert chosen(matcher, {}, JUNE) == "june"
        assert chosen(matcher, {}, JULY - timedelta(microseconds=1)) == "june"
        with pytest.raises(NoMatchingSchedule):
            chosen(matcher, {}, JULY)
        with pytest.raises(NoMatchingSchedule):
            chosen(matcher, {}, JUNE - timedelta(microseconds=1))

    def test_instants_in_other_zones_compare_as_instants(self) -> None:
        """02:00 on 1 July in Berlin is midnight UTC, when the July rule starts."""
        matcher = ScheduleMatcher(
            [rule("june", valid_from=JUNE, valid_to=JULY), rule("july", valid_from=JULY)]
        )
        berlin = datetime(2024, 7, 1, 2, tzinfo=ZoneInfo("Europe/Berlin"))
        assert chosen(matcher, {}, berlin) == "july"
        assert chosen(matcher, {}, berlin - timedelta(seconds=1)) == "june"

    def test_nothing_matching_is_a_typed_not_found(self) -> None:
        """NoMatchingSchedule is a NotFound naming the attributes and instant."""
        matcher = ScheduleMatcher([rule("food", {"category": "food"})])
        with pytest.raises(NoMatchingSchedule, match=r"'category': 'books'.*2024-06-01") as caught:
            chosen(matcher, BOOKS)
        assert isinstance(caught.value, NotFound)

    def test_empty_matcher_matches_nothing(self) -> None:
        """No rules, no schedule."""
        with pytest.raises(NoMatchingSchedule):
            chosen(ScheduleMatcher(), {})

    def test_naive_instant_is_refused(self) -> None:
        """select() needs an aware instant."""
        with pytest.raises(InvalidTimestamp):
            ScheduleMatcher([rule("default")]).select({}, datetime(2024, 6, 1))

    def test_selected_rule_carries_its_schedule(self) -> None:
        """The winner's schedule is the one to evaluate."""
        matcher = ScheduleMatcher([rule("default")])
        assert matcher.select({}, JUNE).schedule.name == "default"


class TestDefinition:
    """What the matcher and its rules refuse."""

    def test_overlapping_equal_rules_are_refused(self) -> None:
        """Same priority, same match, overlapping windows: a contradiction."""
        matcher = ScheduleMatcher([rule("june", {"category": "books"}, valid_to=JULY)])
        with pytest.raises(InvalidRule, match=r"'june' and 'later'.*overlap"):
            matcher.add(rule("later", {"category": "books"}, valid_from=JUNE))

    def test_adjacent_windows_do_not_overlap(self) -> None:
        """[June, July) and [July, ...) share no instant."""
        matcher = ScheduleMatcher(
            [
                rule("june", {"category": "books"}, valid_from=JUNE, valid_to=JULY),
                rule("july", {"category": "books"}, valid_from=JULY),
            ]
        )
        assert chosen(matcher, BOOKS, JULY) == "july"

    def test_match_order_does_not_hide_an_overlap(self) -> None:
        """The same pairs written in another order are the same match."""
        matcher = ScheduleMatcher([rule("a", {"tenant": "t1", "category": "books"})])
        with pytest.raises(InvalidRule, match="overlap"):
            matcher.add(rule("b", {"category": "books", "tenant": "t1"}))

    def test_different_priority_or_match_may_overlap(self) -> None:
        """Overlap is only a contradiction for equal priority and equal match."""
        matcher = ScheduleMatcher(
            [
                rule("a", {"category": "books"}),
                rule("b", {"category": "books"}, priority=1),
                rule("c", {"category": "food"}),
            ]
        )
        assert len(matcher.rules) == 3

    def test_duplicate_rule_id_is_refused(self) -> None:
        """Rule ids are unique."""
        matcher = ScheduleMatcher([rule("a", {"category": "books"})])
        with pytest.raises(InvalidRule, match="already defined"):
            matcher.add(rule("a", {"category": "food"}))

    def test_add_needs_a_rule(self) -> None:
        """Anything else is refused."""
        with pytest.raises(InvalidRule, match="ScheduleRule"):
            ScheduleMatcher().add("a")  # type: ignore[arg-type]

    def test_naive_validity_bounds_are_refused(self) -> None:
        """valid_from and valid_to must be aware."""
        with pytest.raises(InvalidRule, match="time-zone aware"):
            rule("a", valid_from=datetime(2024, 6, 1))
        with pytest.raises(InvalidRule, match="time-zone aware"):
            rule("a", valid_to=datetime(2024, 6, 1))
        with pytest.raises(InvalidRule, match="datetime"):
            rule("a", valid_to="2024-06-01")

    def test_empty_window_is_refused(self) -> None:
        """valid_from must be before valid_to."""
        with pytest.raises(InvalidRule, match="must be before"):
            rule("a", valid_from=JULY, valid_to=JULY)

    def test_bounds_are_stored_in_utc(self) -> None:
        """Aware bounds in any zone are normalised to UTC."""
        berlin = datetime(2024, 7, 1, 2, tzinfo=ZoneInfo("Europe/Berlin"))
        assert rule("a", valid_from=berlin).valid_from == JULY

    @pytest.mark.parametrize("match", [{"category": ""}, {"": "x"}, {"category": 1}, ["x"]])
    def test_bad_match(self, match: Any) -> None:
        """Match pairs are non-empty strings in a mapping."""
        with pytest.raises(InvalidRule, match="match"):
            ScheduleRule(rule_id="a", schedule=schedule("a"), match=match)

    @pytest.mark.parametrize("priority", ["1", True, 1.5])
    def test_priority_must_be_an_int(self, priority: Any) -> None:
        """Priorities are ints."""
        with pytest.raises(InvalidRule, match="priority"):
            rule("a", priority=priority)

    def test_rule_needs_a_schedule(self) -> None:
        """A schedule name alone is not enough."""
        with pytest.raises(InvalidRule, match="FeeSchedule"):
            ScheduleRule(rule_id="a", schedule="standard")  # type: ignore[arg-type]

    def test_rule_id_alphabet(self) -> None:
        """Rule ids use the payout rule id alphabet."""
        with pytest.raises(InvalidRule, match="schedule rule id"):
            ScheduleRule(rule_id="has space", schedule=schedule("a"))
