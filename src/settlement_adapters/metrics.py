"""Metrics adapters: the library's counters in `prometheus_client` (R-MON-2).

Install with the `prometheus` extra. Every counter of the catalogue is declared
up front on the registry given (or the default one), named
`<namespace>_<name>_total`, with its labels; the host exposes the registry as
it already does (`prometheus_client.start_http_server`, a WSGI/ASGI app, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from settlement_core.errors import ValidationError
from settlement_core.ports import CATALOGUE


class PrometheusMetrics:
    """The Metrics port on prometheus_client counters."""

    def __init__(
        self, registry: CollectorRegistry | None = None, namespace: str = "settlement"
    ) -> None:
        target = REGISTRY if registry is None else registry
        self._counters = {
            name: Counter(name, description, labels, namespace=namespace, registry=target)
            for name, (description, labels) in CATALOGUE.items()
        }

    def count(self, name: str, value: int = 1, labels: Mapping[str, str] | None = None) -> None:
        """Add `value` (never negative) to the counter, with exactly its declared labels."""
        counter = self._counters.get(name)
        if counter is None:
            raise ValidationError(f"no counter named {name!r}")
        if value < 0:
            raise ValidationError(f"counter {name} cannot go down (got {value})")
        expected = CATALOGUE[name][1]
        given = dict(labels or {})
        if set(given) != set(expected):
            raise ValidationError(f"counter {name} takes labels {expected}, got {sorted(given)}")
        (counter.labels(**given) if expected else counter).inc(value)
