"""The in-memory store's untracked dicts and item groups, and what they keep from the collector.

A full collection visits every tracked object and every entry of a tracked
container; if the store kept one per account, statement or item, the
collector's work would grow with the store and ingest would slow per item as
it filled.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest

from settlement_adapters.bootstrap import in_memory
from settlement_adapters.memory import MemoryDatabase
from settlement_adapters.memory.untracked import ItemGroups, ItemOrdinals, UntrackedDict
from settlement_core.model import ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import from_minor
from settlement_core.rules import Cycle, PayoutRule, RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock

DAY0 = datetime(2025, 3, 3, tzinfo=UTC)


def test_a_tracked_value_waits_in_the_overlay_until_the_collector_untracks_it() -> None:
    rows: UntrackedDict[str, tuple[object, ...]] = UntrackedDict()
    for n in range(1_000):
        rows[f"r{n}"] = (f"r{n}", n)
    rows["r5"] = ("r5", -5)  # a second write of a key still in the overlay
    tagged: tuple[str, list[int]] = ("tag", [])  # holds a list: stays tracked for good
    rows["t"] = tagged
    assert len(rows) == 1_001 and "r999" in rows and "nope" not in rows
    assert rows["r5"] == ("r5", -5) and rows.get("nope") is None and rows.get("nope", 1) == 1
    gc.collect()
    rows.settle()
    assert rows._fresh == {"t": tagged}  # only the value still tracked is left waiting
    rows["r5"] = ("r5", 5)  # a new value for a settled key: the overlay answers first
    assert rows["r5"] == ("r5", 5) and rows.values_of(["r3", "r5"]) == [("r3", 3), ("r5", 5)]
    gc.collect()
    rows.settle()
    gc.collect()
    assert not gc.is_tracked(rows._main)  # only untracked values went in
    assert len(rows) == 1_001
    assert sorted(rows) == sorted([f"r{n}" for n in range(1_000)] + ["t"])
    assert dict(rows.items())["r7"] == ("r7", 7) and rows["t"] is tagged
    with pytest.raises(KeyError):
        rows.values_of(["nope"])
    with pytest.raises(TypeError):
        del rows["r1"]
    with pytest.raises(ValueError, match="falsy"):
        rows["empty"] = ()


def test_groups_give_back_ids_per_key_in_the_order_they_were_filed() -> None:
    ordinals = ItemOrdinals()
    groups: ItemGroups[str] = ItemGroups(ordinals)
    for commit in range(3):
        ids = [f"i{commit}-{n}" for n in range(4)]
        first = ordinals.add(ids)
        for ordinal, item_id in enumerate(ids, first):
            groups.add("even" if item_id[-1] in "02" else "odd", ordinal)
    assert groups["even"] == ["i0-0", "i0-2", "i1-0", "i1-2", "i2-0", "i2-2"]
    assert len(groups["odd"]) == 6 and "none" not in groups
    assert groups.get("none") is None and groups.get("none", ()) == ()
    assert sorted(groups) == ["even", "odd"] and len(groups) == 2
    with pytest.raises(KeyError):
        groups["none"]


def _app(db: MemoryDatabase) -> Settlement:
    rules = RuleEngine(default_rule_id="daily")
    rules.define(PayoutRule(rule_id="daily", cycle=Cycle.daily()))
    rules.validate()
    return in_memory(rules, clock=ManualClock(DAY0 + timedelta(days=3)), db=db)


def _fill(app: Settlement, shops: range) -> None:
    for shop in shops:
        app.get_or_create_account(
            OpenAccount(tenant_id="t", shop_id=f"s{shop}", attributes={"region": "eu"})
        )
    app.record_billing_items(
        [
            RecordBillingItem(
                tenant_id="t",
                shop_id=f"s{shop}",
                key=f"k{shop}-{day}",
                order_id=f"o{shop}-{day}",
                kind=ItemKind.SALE,
                amount=from_minor(100, "EUR"),
                occurred_at=DAY0 + timedelta(days=day, hours=1),
            )
            for shop in shops
            for day in (0, 1)
        ]
    )


def test_the_store_keeps_no_tracked_object_per_account_statement_or_item() -> None:
    db = MemoryDatabase()
    app = _app(db)
    _fill(app, range(10))  # every table and index has its first entries
    gc.collect()
    before = len(gc.get_objects())
    _fill(app, range(10, 510))  # 500 accounts, 1,000 statements, 1,000 items
    app.close_cycles(DAY0 + timedelta(days=3))
    for _ in range(3):  # a pass untracks one level of nested tuples
        gc.collect()
    # Releases and other low-volume aggregates may be objects; these are not.
    assert len(gc.get_objects()) - before < 50
    assert len(db.items_by_account[db.account_by_shop[("t", "s400")]]) == 2


def test_an_overlay_the_collector_has_not_seen_is_walked_again_only_once_it_doubled() -> None:
    rows: UntrackedDict[str, tuple[object, ...]] = UntrackedDict()
    held = [("h", [n]) for n in range(300)]  # each holds a list: tracked for good
    for n, value in enumerate(held):
        rows[f"h{n}"] = value
    rows.settle()
    assert len(rows._fresh) == 300 and rows._settle_at == 600
    rows["r0"] = ("r0", 0)
    gc.collect()
    rows.settle()  # 301 waiting, fewer than 600: not walked
    assert "r0" in rows._fresh
    for n in range(1, 300):
        rows[f"r{n}"] = ("r", n)
    gc.collect()
    rows.settle()  # 600 waiting: the untracked half moves, the rest waits for 600 more
    assert set(rows._fresh) == {f"h{n}" for n in range(300)} and rows._settle_at == 600
    assert rows["r7"] == ("r", 7) and rows["h3"] is held[3] and len(rows) == 600


def test_payouts_and_what_orders_booked_keep_no_tracked_object_per_account() -> None:
    db = MemoryDatabase()
    app = _app(db)
    paid_at = DAY0 + timedelta(days=3)
    _fill(app, range(10))
    app.close_cycles(paid_at)
    assert len(app.create_payouts(paid_at).created) == 10
    gc.collect()
    before = len(gc.get_objects())
    _fill(app, range(10, 510))
    app.close_cycles(paid_at)
    assert len(app.create_payouts(paid_at).created) == 500
    for _ in range(3):
        gc.collect()
    # As objects, each payout kept four (itself, its sources, a source, its events).
    assert len(gc.get_objects()) - before < 50
    assert not gc.is_tracked(db.booked_by_order)
    payout = db.payouts[db.payout_by_key[("t", next(k for t, k in db.payout_by_key))]]
    assert payout.sources[0].amount_minor == payout.amount_minor == 200
