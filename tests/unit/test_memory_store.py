"""The in-memory adapter's own storage: rows, the close, bulk moves, journal, outbox, indexes.

The contract suites hold the memory adapter to the same results as the SQL one;
these tests pin what only the memory adapter does to be cheap at scale, where a
mistake would show as a lost isolation, a missed conflict or a skipped row.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest

from settlement_adapters.bootstrap import in_memory
from settlement_adapters.memory import MemoryDatabase, MemoryUnitOfWork
from settlement_adapters.memory.codec import RowCodec
from settlement_core.errors import ConcurrencyConflict
from settlement_core.ledger import Entry
from settlement_core.lifecycle import BillingItemStatus, StatementStatus
from settlement_core.model import BillingItem, ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import from_minor
from settlement_core.ports import ItemFilter
from settlement_core.rules import Cycle, PayoutRule, RuleEngine
from settlement_core.services.settlement import Settlement
from settlement_core.testing.fakes import ManualClock

DAY0 = datetime(2025, 3, 3, tzinfo=UTC)
NOW = DAY0 + timedelta(days=2, hours=1)
TENANT = "t1"


def _app(db: MemoryDatabase, batch_size: int = 500) -> Settlement:
    rules = RuleEngine(default_rule_id="daily")
    rules.define(PayoutRule(rule_id="daily", cycle=Cycle.daily()))
    rules.validate()
    return in_memory(rules, clock=ManualClock(NOW), db=db, batch_size=batch_size)


def _item(shop: int, n: int, day: int = 0) -> RecordBillingItem:
    return RecordBillingItem(
        tenant_id=TENANT,
        shop_id=f"shop-{shop}",
        key=f"k-{shop}-{n}-{day}",
        order_id=f"o-{shop}-{n}",
        kind=ItemKind.SALE,
        amount=from_minor(100 + n, "EUR"),
        occurred_at=DAY0 + timedelta(days=day, hours=1 + n),
    )


@pytest.fixture
def db() -> MemoryDatabase:
    """A store with three shops and two days of items each."""
    database = MemoryDatabase()
    app = _app(database)
    for shop in range(3):
        app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id=f"shop-{shop}"))
    app.record_billing_items([_item(s, n, d) for s in range(3) for n in range(4) for d in (0, 1)])
    return database


def _statement_of(db: MemoryDatabase, shop: int, day: int) -> str:
    account = db.account_by_shop[(TENANT, f"shop-{shop}")]
    starts, ids = db.statement_series[(account, "EUR")]
    return ids[starts.index(DAY0 + timedelta(days=day))]


def test_an_item_row_is_untracked_by_the_collector_and_gives_back_the_item() -> None:
    codec = RowCodec(BillingItem)
    item = BillingItem(
        id="i1",
        tenant_id=TENANT,
        key="k",
        account_id="a",
        order_id="o",
        kind=ItemKind.REFUND,
        amount_minor=-5,
        currency="EUR",
        occurred_at=DAY0,
        recorded_at=NOW,
        statement_id="s",
        request_hash="h",
        status=BillingItemStatus.STATEMENTED,
        version=3,
    )
    row = codec.row(item)
    gc.collect()
    assert not gc.is_tracked(row)
    back = codec.object(row)
    assert [getattr(back, n) for n in codec.names] == [getattr(item, n) for n in codec.names]
    assert back.kind is ItemKind.REFUND and back.status is BillingItemStatus.STATEMENTED
    assert back.events == [] and back.events is not item.events


def test_a_close_writes_no_item_row_yet_its_items_read_as_statemented(db: MemoryDatabase) -> None:
    statement_id = _statement_of(db, 0, 0)
    item_ids = list(db.items_by_statement[statement_id])
    rows = {i: db.items[i] for i in item_ids}
    with MemoryUnitOfWork(db) as uow:
        statement = uow.statements.get_own(statement_id)
        # Before its statement closes, the trigger finds the items but they read as pending.
        assert uow.items.get(TENANT, item_ids[0]).status is BillingItemStatus.PENDING
        statement.close(NOW, statement.total_minor)
        assert uow.items.move_by_statements([statement_id], "statement") == len(item_ids)
        seen = [uow.items.get(TENANT, i) for i in item_ids]
        assert {i.status for i in seen} == {BillingItemStatus.STATEMENTED}
    with MemoryUnitOfWork(db) as uow:  # rolled back: the statement is open again
        assert all(uow.items.get(TENANT, i).status is BillingItemStatus.PENDING for i in item_ids)
    _app(db).close_cycles(NOW)
    assert all(db.items[i] is row for i, row in rows.items())  # not one item row written
    with MemoryUnitOfWork(db) as uow:
        found = uow.items.query(
            ItemFilter(
                tenant_id=TENANT, status=BillingItemStatus.STATEMENTED, statement_id=statement_id
            ),
            None,
            100,
        )
        assert sorted(i.id for i in found.items) == sorted(item_ids)
        # Read for update and left alone: nothing to write, so no new version.
        uow.items.get(TENANT, item_ids[0])
        uow.commit()
    assert db.items[item_ids[0]] is rows[item_ids[0]]


def test_a_bulk_move_is_seen_by_its_unit_of_work_and_dropped_on_rollback(
    db: MemoryDatabase,
) -> None:
    _app(db).close_cycles(NOW)
    statement = _statement_of(db, 0, 0)
    item_ids = list(db.items_by_statement[statement])
    with MemoryUnitOfWork(db) as uow:
        # Stored as pending, read as statemented: "pay" moves them all.
        assert uow.items.move_by_statements([statement], "pay") == len(item_ids)
        moved = [uow.items.get(TENANT, i).status for i in item_ids]
        assert moved == [BillingItemStatus.PAID] * len(item_ids)
        # Moved once: the same trigger finds nothing left to move.
        assert uow.items.move_by_statements([statement], "pay") == 0
    with MemoryUnitOfWork(db) as uow:
        assert all(
            uow.items.get(TENANT, i).status is BillingItemStatus.STATEMENTED for i in item_ids
        )


def test_a_bulk_move_is_written_once_with_the_next_version(db: MemoryDatabase) -> None:
    _app(db).close_cycles(NOW)
    statement = _statement_of(db, 1, 0)
    first, *rest = db.items_by_statement[statement]
    with MemoryUnitOfWork(db) as uow:
        uow.items.move_by_statements([statement], "pay")
        # Read for update after the move: the copy carries the move and is written once.
        assert uow.items.get(TENANT, first).status is BillingItemStatus.PAID
        uow.commit()
    with MemoryUnitOfWork(db) as uow:
        for item_id in (first, *rest):
            item = uow.items.get(TENANT, item_id)
            assert (item.status, item.version) == (BillingItemStatus.PAID, 2)


def test_a_bulk_move_loses_to_a_writer_that_changed_an_item_first(db: MemoryDatabase) -> None:
    _app(db).close_cycles(NOW)
    statement = _statement_of(db, 2, 1)
    item_id = db.items_by_statement[statement][0]
    mover = MemoryUnitOfWork(db)
    mover.items.move_by_statements([statement], "pay")
    with MemoryUnitOfWork(db) as other:
        other.items.get(TENANT, item_id).status = BillingItemStatus.FAILED
        other.commit()
    with pytest.raises(ConcurrencyConflict):
        mover.commit()
    mover.rollback()
    with MemoryUnitOfWork(db) as uow:
        moved = [uow.items.get(TENANT, i) for i in db.items_by_statement[statement]]
    assert [i.status for i in moved].count(BillingItemStatus.FAILED) == 1
    assert [i.status for i in moved].count(BillingItemStatus.PAID) == 0


def test_a_journal_transaction_handed_out_by_id_keeps_the_changes_made_to_it(
    db: MemoryDatabase,
) -> None:
    with MemoryUnitOfWork(db) as uow:
        first = uow.ledger.transactions(TENANT)[0]
        assert uow.ledger.get(first.id) == first
        assert uow.ledger.find(first.kind, first.reference) == first
    kept = db.transaction_by_id[first.id]
    leg = kept.entries[0]
    object.__setattr__(kept, "entries", (Entry(leg.account, leg.currency, 1), *kept.entries[1:]))
    with MemoryUnitOfWork(db) as uow:
        assert uow.ledger.get(first.id).entries[0].amount_minor == 1
        assert [t.id for t in uow.ledger.transactions(TENANT)].count(first.id) == 1
        assert uow.ledger.audit(TENANT).unbalanced


def test_the_outbox_yields_each_message_once_in_commit_order_across_chunks(
    db: MemoryDatabase,
) -> None:
    seen: list[str] = []
    while True:
        with MemoryUnitOfWork(db) as uow:
            batch = uow.outbox.pending(5)
            # Asking again before delivery gives the same messages under the same ids.
            assert [m.id for m in uow.outbox.pending(5)] == [m.id for m in batch]
            if not batch:
                break
            seen.extend(m.id for m in batch)
            uow.outbox.mark_sent([m.id for m in batch])
            uow.commit()
    every = [row[0] for chunk in db.outbox for row in chunk if isinstance(row, tuple)]
    assert seen == every and len(set(seen)) == len(seen) > 5


def test_small_commits_share_an_outbox_chunk_and_a_drained_relay_still_sees_the_next(
    db: MemoryDatabase,
) -> None:
    app = _app(db)

    def drain() -> list[str]:
        with MemoryUnitOfWork(db) as uow:
            batch = uow.outbox.pending(10_000)
            uow.outbox.mark_sent([m.id for m in batch])
            uow.commit()
        return [m.id for m in batch]

    drain()
    assert drain() == []  # this call moves the relay's cursor past every chunk
    chunks = len(db.outbox)
    for shop in range(10, 13):  # three small commits: one new chunk
        app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id=f"shop-{shop}"))
    assert len(db.outbox) == chunks + 1
    app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id="shop-13"))
    assert len(drain()) == 4 and drain() == []
    # The cursor moved past the last chunk: a new message starts a chunk of its own
    # rather than extending one the relay would not look at again.
    app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id="shop-14"))
    assert len(db.outbox) == chunks + 2
    assert len(drain()) == 1 and drain() == []


def test_statements_are_due_oldest_first_until_a_close_is_committed(db: MemoryDatabase) -> None:
    with MemoryUnitOfWork(db) as uow:
        due = uow.statements.due_to_close(NOW, 4)
        ends = [(s.period.end, s.id) for s in due]
        assert ends == sorted(ends) and len(due) == 4
        assert all(s.period.end == DAY0 + timedelta(days=1) for s in due[:3])
        for statement in due[:2]:
            statement.close(NOW, statement.total_minor)
        # This unit of work no longer sees its own closed statements as due.
        assert {s.id for s in uow.statements.due_to_close(NOW, 10)}.isdisjoint(
            s.id for s in due[:2]
        )
    with MemoryUnitOfWork(db) as uow:  # rolled back: still due
        assert len(uow.statements.due_to_close(NOW, 10)) == 6
        for statement in uow.statements.due_to_close(NOW, 2):
            statement.close(NOW, statement.total_minor)
        uow.commit()
    with MemoryUnitOfWork(db) as uow:
        left = uow.statements.due_to_close(NOW, 10)
    assert len(left) == 4 and all(s.status is StatementStatus.OPEN for s in left)


def test_payable_accounts_page_in_id_order_and_skip_those_without(db: MemoryDatabase) -> None:
    app = _app(db, batch_size=2)
    app.close_cycles(NOW)
    accounts = sorted(db.accounts)
    with MemoryUnitOfWork(db) as uow:
        assert uow.statements.accounts_with_payable(NOW, None, 2) == accounts[:2]
        assert uow.statements.accounts_with_payable(NOW, accounts[1], 2) == accounts[2:]
        assert uow.statements.accounts_with_payable(NOW, accounts[2], 2) == []
        payable = uow.statements.payable_for_accounts(accounts, NOW)
        assert {a: len(s) for a, s in payable.items()} == dict.fromkeys(accounts, 2)
    app.create_payouts(NOW)
    with MemoryUnitOfWork(db) as uow:
        assert uow.statements.accounts_with_payable(NOW, None, 10) == []
        assert uow.statements.payable_for_accounts(accounts, NOW) == {}
