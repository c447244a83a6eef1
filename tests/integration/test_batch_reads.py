"""Batch reads: IN lists padded to a few lengths, one array on PostgreSQL; the rows asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import SqlAlchemyUnitOfWork
from settlement_adapters.sqla.repositories import ANY_ARRAY, _in_chunks, _in_params
from settlement_adapters.testing import empty_store
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import Marketplace


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty store of each SQL backend."""
    with empty_store(request.param, tmp_path) as found:
        assert found is not None
        yield found


def _market(engine: Engine) -> Marketplace:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx)

    return Marketplace(build)


@pytest.mark.parametrize("count", [1, 3, 4, 5, 17, 501])
def test_padded_in_lists_read_exactly_the_values_asked_for(engine: Engine, count: int) -> None:
    """A batch read of some accounts tracks those accounts and no other."""
    market = _market(engine)
    ids = [market.shop(f"s{n}") for n in range(count + 2)]
    wanted = ids[:count]
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.accounts.read_ahead(wanted)
        tracked = {obj_id for (name, obj_id) in uow.tracked if name == "settlement_accounts"}
        assert tracked == set(wanted)


def test_padding_repeats_the_last_value_up_to_a_fixed_length() -> None:
    """Lengths come from a short list; the values asked for come first, in order."""
    length, params = _in_params(["a", "b", "c", "d", "e"])
    assert length == 16
    assert [params[f"p_in_{at}"] for at in range(5)] == ["a", "b", "c", "d", "e"]
    assert {params[f"p_in_{at}"] for at in range(5, 16)} == {"e"}
    assert _in_params(["x"] * 500)[0] == 500


def test_postgresql_takes_a_batch_as_one_array() -> None:
    """One parameter per chunk, whatever its length, and chunks far larger than IN lists."""
    values = [f"v{n}" for n in range(10_001)]
    chunks = _in_chunks(values, "postgresql")
    assert [(length, len(params["p_in"])) for length, params in chunks] == [
        (ANY_ARRAY, 10_000),
        (ANY_ARRAY, 1),
    ]
    assert [v for _, params in chunks for v in params["p_in"]] == values
    assert [length for length, _ in _in_chunks(values[:1_001], "sqlite")] == [500, 500, 1]
