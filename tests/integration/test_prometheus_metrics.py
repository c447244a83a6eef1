"""The Prometheus adapter of the metrics port."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from settlement_adapters.bootstrap import in_memory
from settlement_adapters.metrics import PrometheusMetrics
from settlement_core.errors import ValidationError
from settlement_core.ports import CATALOGUE
from settlement_core.ports import metrics as m
from settlement_core.testing.marketplace import Marketplace, standard_rules


def test_every_counter_of_the_catalogue_is_declared() -> None:
    """Each name becomes settlement_<name>_total on the registry given."""
    registry = CollectorRegistry()
    PrometheusMetrics(registry)
    names = {metric.name for metric in registry.collect()}
    assert names == {f"settlement_{name}" for name in CATALOGUE}


def test_counts_reach_the_registry_with_their_labels() -> None:
    """A Settlement built with the adapter counts what it ingests."""
    registry = CollectorRegistry()
    counters = PrometheusMetrics(registry)
    market = Marketplace(
        lambda rules, clock, fx: in_memory(rules, clock=clock, fx=fx, metrics=counters),
        standard_rules(),
    )
    market.shop("s1")
    market.order("s1", "12.34")
    market.order("s1", "1.00", "EUR")
    assert registry.get_sample_value("settlement_items_ingested_total") == 2
    sample = registry.get_sample_value(
        "settlement_amount_ingested_minor_total", {"currency": "USD", "direction": "in"}
    )
    assert sample == 1234


@pytest.mark.parametrize(
    ("name", "value", "labels"),
    [
        ("nothing_like_it", 1, {}),
        (m.ITEMS_INGESTED, -1, {}),
        (m.PAYOUTS_PAID, 1, {}),
        (m.PAYOUTS_PAID, 1, {"channel": "a", "extra": "b"}),
    ],
)
def test_counts_off_the_catalogue_are_refused(
    name: str, value: int, labels: dict[str, str]
) -> None:
    """Unknown names, negative values and wrong labels are errors, not silent series."""
    with pytest.raises(ValidationError):
        PrometheusMetrics(CollectorRegistry()).count(name, value, labels)
