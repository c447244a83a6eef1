"""The payout job's batch reads: IN lists padded to a few lengths, exactly the rows asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from settlement_adapters.bootstrap import bootstrap
from settlement_adapters.sqla import SqlAlchemyUnitOfWork, create_schema, make_engine
from settlement_adapters.sqla.repositories import _in_params
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.marketplace import Marketplace


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty SQLite schema."""
    lite = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_schema(lite)
    yield lite
    lite.dispose()


def _market(engine: Engine) -> Marketplace:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx)

    return Marketplace(build)


@pytest.mark.parametrize("count", [1, 3, 4, 5, 17])
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
