"""The issue's peer comparison: python-accounting posting one journal entry per transaction.

python-accounting (a double-entry library on the SQLAlchemy ORM) is installed
only in the bench session, without its server drivers (it needs none for
SQLite). Each posting is one ORM session commit on a fresh SQLite file with
the same pragmas as the library's store; the library's side is
record_billing_item one by one on SQLite (one transaction per item, with its
idempotency check, statement total, journal entries and outbox).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from typing import Any

import baselines


def available() -> bool:
    """Whether python-accounting is importable here."""
    try:
        import python_accounting  # noqa: F401
    except ImportError:
        return False
    return True


def postings_per_second(path: Path, count: int) -> float:
    """Journal entries posted per second, one ORM transaction each, on a new SQLite file."""
    from python_accounting.database.session import get_session
    from python_accounting.models import Account, Base, Currency, Entity, LineItem
    from python_accounting.transactions import JournalEntry
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        for pragma in baselines.raw_pragmas():
            dbapi_connection.execute(pragma)

    Base.metadata.create_all(engine)
    try:
        with get_session(engine) as session:
            entity = Entity(name="Bench Marketplace")
            session.add(entity)
            session.commit()
            currency = Currency(name="US Dollars", code="USD", entity_id=entity.id)
            session.add(currency)
            session.commit()
            bank, expense = (
                Account(name=name, account_type=kind, currency_id=currency.id, entity_id=entity.id)
                for name, kind in (
                    ("Bank", Account.AccountType.BANK),
                    ("Payouts", Account.AccountType.DIRECT_EXPENSE),
                )
            )
            session.add_all([bank, expense])
            session.commit()
            seconds = 0.0
            for n in range(count):
                start = perf_counter()
                entry = JournalEntry(
                    narration=f"settlement {n}",
                    transaction_date=datetime.now(),
                    account_id=bank.id,
                    entity_id=entity.id,
                )
                session.add(entry)
                session.flush()
                line = LineItem(
                    narration="payout",
                    account_id=expense.id,
                    amount=Decimal(100 + n % 900),
                    entity_id=entity.id,
                )
                session.add(line)
                session.flush()
                entry.line_items.add(line)
                session.add(entry)
                entry.post(session)
                session.commit()
                seconds += perf_counter() - start
    finally:
        engine.dispose()
    return count / seconds
