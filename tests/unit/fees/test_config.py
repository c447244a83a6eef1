"""A whole fee engine loaded from plain data (JSON-shaped), checked when it is loaded."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from settlement_core.errors import InvalidRule
from settlement_core.fees import Order, engine_from_config
from settlement_core.model import ItemKind
from settlement_core.money import money

CONFIG: dict[str, Any] = {
    "schedules": [
        {
            "name": "retail",
            "factors": ["paid", "rate"],
            "fees": [{"name": "commission", "formula": "paid * rate", "rounding": "HALF_UP"}],
        },
        {
            "name": "retail-2025",
            "factors": ["paid"],
            "fees": [{"name": "commission", "formula": "paid * 0.05", "rounding": "HALF_UP"}],
        },
    ],
    "rules": [
        {"rule_id": "retail-v1", "schedule": "retail", "valid_to": "2025-01-01T00:00:00+00:00"},
        {
            "rule_id": "retail-v2",
            "schedule": "retail-2025",
            "valid_from": "2025-01-01T00:00:00+00:00",
        },
    ],
    "routes": [{"fee": "commission", "party": "platform", "payer": "@seller"}],
}


def _order(at: datetime) -> Order:
    return Order(
        order_id="o-1",
        tenant_id="t",
        business="retail",
        amount=money("40.00", "USD"),
        at=at,
        parties={"seller": "s-1"},
        factors={"paid": Decimal("40.00"), "rate": Decimal("0.10")},
    )


def test_a_json_document_becomes_an_engine() -> None:
    """Parsed JSON loads; each rule's window picks its schedule version; routes keep payers."""
    engine = engine_from_config(json.loads(json.dumps(CONFIG)))
    old = engine.settle(_order(datetime(2024, 6, 1, tzinfo=UTC)))
    new = engine.settle(_order(datetime(2025, 6, 1, tzinfo=UTC)))
    assert (old.rule_id, old.fees.amounts["commission"]) == ("retail-v1", money("4.00", "USD"))
    assert (new.rule_id, new.fees.amounts["commission"]) == ("retail-v2", money("2.00", "USD"))
    kinds = [(c.shop_id, c.kind) for c in new.commands(sequence=0)]
    assert kinds == [
        ("platform", ItemKind.SALE),
        ("s-1", ItemKind.FEE),
        ("s-1", ItemKind.SALE),
    ]


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    target: Any = config
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["extra"], [], "unknown keys: extra"),
        (["rules"], KeyError, "a list of rules"),
        (["routes"], "commission", "a list of routes"),
        (["rules", 0, "schedule"], "wholesale", "names schedule 'wholesale'"),
        (["rules", 0, "valid_to"], "next tuesday", "not an ISO 8601 instant"),
        (["rules", 0, "valid_to"], "2025-01-01T00:00:00", "time-zone aware"),
        (["rules", 1, "valid_from"], "2024-06-01T00:00:00+00:00", "overlap"),
        (["rules", 0, "priority"], "high", "priority"),
        (["routes", 0, "party"], KeyError, "needs 'party'"),
        (["routes", 0, "payer"], "platform", "charged to its own payee"),
        (["routes", 0, "via"], "x", "unknown keys: via"),
        (["schedules", 1, "name"], "retail", "defined twice"),
        (["schedules", 0, "fees", 0, "formula"], "paid * discount", "discount"),
        (["schedules", 0, "fees", 0, "formula"], "__import__('os')", "formula"),
    ],
)
def test_bad_configuration_is_refused_when_loaded(
    path: list[Any], value: Any, message: str
) -> None:
    """Every defect is an InvalidRule naming it, raised before any order is priced."""
    with pytest.raises(InvalidRule, match=message):
        engine_from_config(_broken(path, value))
