"""The SQL adapter beyond the contract: host transactions, injected failures, parity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from settlement_adapters.bootstrap import bootstrap, in_memory, joined
from settlement_adapters.sqla import SqlAlchemyUnitOfWork, tables
from settlement_adapters.testing import empty_store
from settlement_core.model import ItemKind, OpenAccount
from settlement_core.ports import Clock, FxRates
from settlement_core.rules import RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.invariants import everything
from settlement_core.testing.marketplace import TENANT, Marketplace, standard_rules


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty schema on one SQL backend."""
    with empty_store(request.param, tmp_path) as found:
        assert found is not None
        yield found


def _market(engine: Engine) -> Marketplace:
    def build(rules: RuleEngine, clock: Clock, fx: FxRates) -> Settlement:
        return bootstrap(engine, rules, clock=clock, fx=fx)

    return Marketplace(build)


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


class TestHostTransaction:
    """A unit of work joins the host's open transaction."""

    def test_host_rollback_takes_our_item_with_it(self, engine: Engine) -> None:
        """The host rolls back: neither its write nor our billing item remains."""
        market = _market(engine)
        market.shop("s1")
        with engine.connect() as conn:
            host = conn.begin()
            joined(market.app, conn).record_billing_item(market.command("s1", "5.00"))
            host.rollback()
        assert _count(engine, tables.billing_items) == 0
        assert _count(engine, tables.journal_transactions) == 0

    def test_host_commit_keeps_both(self, engine: Engine) -> None:
        """The host commits: our item is stored with it."""
        market = _market(engine)
        market.shop("s1")
        with engine.connect() as conn, conn.begin():
            joined(market.app, conn).record_billing_item(market.command("s1", "5.00"))
        assert _count(engine, tables.billing_items) == 1


class TestCloseLeavesItemRows:
    """Closing a statement derives its items' status instead of rewriting their rows."""

    def test_close_writes_no_item_row_and_payment_moves_them(self, engine: Engine) -> None:
        """Rows stay pending through the close, read as statemented, and turn paid when paid."""
        market = _market(engine)
        market.shop("s1")
        receipt = market.order("s1", "10.00")
        market.advance(days=1)
        _, [payout_id] = market.run_jobs()
        i = tables.billing_items.c
        stored = select(i.status, i.version).where(i.id == receipt.item_id)
        with engine.connect() as conn:
            assert tuple(conn.execute(stored).one()) == ("pending", 1)
        [item] = market.app.get_items(TENANT, [receipt.item_id])
        assert item.status.value == "statemented"
        market.app.mark_payout_submitted(TENANT, payout_id)
        market.app.record_payout_paid(TENANT, payout_id)
        with engine.connect() as conn:
            assert tuple(conn.execute(stored).one()) == ("paid", 2)


class TestInjectedFailures:
    """A failure in the middle of a unit of work leaves no partial rows."""

    @pytest.mark.parametrize("step", ["_write_postings", "_add_to_balances", "_write_changes"])
    def test_crash_inside_the_flush_stores_nothing(
        self, engine: Engine, step: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Items written, ledger not yet (or the reverse): the whole command is undone."""
        market = _market(engine)
        market.shop("s1")
        market.order("s1", "1.00")  # the statement exists, so the next item updates it
        before = {t.name: _count(engine, t) for t in tables.metadata.sorted_tables}

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError(f"injected failure in {step}")

        monkeypatch.setattr(SqlAlchemyUnitOfWork, step, crash)
        with pytest.raises(RuntimeError, match="injected"):
            market.order("s1", "2.00")
        monkeypatch.undo()
        after = {t.name: _count(engine, t) for t in tables.metadata.sorted_tables}
        assert after == before
        statement_total = market.app.balance(TENANT, market.shop("s1")).pending["USD"]
        assert str(statement_total.amount) == "1.00"

    def test_crash_while_writing_events_stores_nothing(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The outbox write fails after the data rows: the data rows are rolled back too."""
        market = _market(engine)
        real = SqlAlchemyUnitOfWork._flush

        def flush_then_fail(self: SqlAlchemyUnitOfWork) -> None:
            real(self)
            if any(name == tables.accounts.name for name, _ in self.tracked):
                raise RuntimeError("injected failure after the data rows")

        monkeypatch.setattr(SqlAlchemyUnitOfWork, "_flush", flush_then_fail)
        with pytest.raises(RuntimeError, match="injected"):
            market.app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id="s1"))
        monkeypatch.undo()
        assert _count(engine, tables.accounts) == 0
        assert _count(engine, tables.outbox) == 0


def _scenario(market: Marketplace) -> list[tuple[Any, ...]]:
    """A month of mixed rules and currencies, summarised without ids or times."""
    rules = ("daily", "weekly", "threshold", "hold", "manual", "in-usd")
    for i, rule in enumerate(rules):
        market.shop(f"shop-{i}", rule=rule)
    for day in range(20):
        for i in range(len(rules)):
            market.order(f"shop-{i}", f"{(day * 7 + i * 13) % 40 + 1}.25")
            if (day + i) % 3 == 0:
                market.order(f"shop-{i}", "9.10", "EUR")
            if (day + i) % 5 == 0:
                market.order(f"shop-{i}", "-15.00", kind=ItemKind.REFUND)
        market.advance(days=1)
        market.run_jobs()
    items, statements, payouts = everything(market.app)
    names = {
        a: market.app.get_account(TENANT, a).shop_id for a in {s.account_id for s in statements}
    }
    summary: list[tuple[Any, ...]] = [("items", len(items), sum(i.amount_minor for i in items))]
    summary += sorted(
        (
            names[s.account_id],
            s.currency,
            s.period.start,
            s.status.value,
            s.total_minor,
            s.carried_forward_minor,
        )
        for s in statements
    )
    summary += sorted(
        (names[p.account_id], p.currency, p.amount_minor, p.status.value, len(p.statement_ids))
        for p in payouts
    )
    return summary


def test_every_backend_gives_the_memory_result(engine: Engine) -> None:
    """The same scenario on memory and on this backend ends in identical state."""
    reference = _scenario(Marketplace(lambda r, c, f: in_memory(r, clock=c, fx=f)))
    assert _scenario(_market(engine)) == reference
    assert len(reference) > 50


def test_bootstrap_takes_urls(tmp_path: Path) -> None:
    """memory:// and a SQLite URL give ready services."""
    for url in ("memory://", f"sqlite:///{tmp_path / 'x.db'}"):
        app = bootstrap(url, standard_rules(), create=True)
        receipt = app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id="s"))
        assert receipt.created
