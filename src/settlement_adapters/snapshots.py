"""What a store holds, as plain comparable data, for tests that compare stores.

`store_rows` is every stored row of one store exactly as it is (a refused
request must leave it equal). `business_state` is a tenant's items,
statements, payouts and ledger with every generated id replaced by the
business identity it stands for, so two stores that went through the same
commands compare equal even where one of them crashed and ran a command
again (and so drew other ids).
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from settlement_adapters.memory import MemoryDatabase
from settlement_core.model import Account, Payout, Statement
from settlement_core.services.settlement import Settlement
from settlement_core.testing.invariants import everything

if TYPE_CHECKING:
    from sqlalchemy import Engine

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def plain(value: Any) -> Any:
    """Nested data as tuples, strings and numbers, in a stable order; empty entries dropped."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (
            type(value).__name__,
            tuple((f.name, plain(getattr(value, f.name))) for f in fields),
        )
    if isinstance(value, Mapping):
        pairs = [(plain(k), plain(v)) for k, v in value.items() if v != [] and v != set()]
        return tuple(sorted(pairs, key=repr))
    if isinstance(value, set | frozenset):
        return tuple(sorted((plain(v) for v in value), key=repr))
    if isinstance(value, list | tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | Decimal):
        return value.isoformat() if not isinstance(value, Decimal) else str(value)
    return value


def store_rows(app: Settlement, engine: Engine | None) -> Any:
    """Every row of the store: each SQL table sorted, or the memory database's tables."""
    if engine is None:
        uow: Any = app.context.uow()
        db: MemoryDatabase = uow.db
        return tuple(
            (name, plain(value)) for name, value in sorted(vars(db).items()) if name != "lock"
        )
    from sqlalchemy import select

    from settlement_adapters.sqla import tables

    with engine.connect() as conn:
        return tuple(
            (
                table.name,
                tuple(
                    sorted(
                        (tuple(plain(v) for v in row) for row in conn.execute(select(table))),
                        key=repr,
                    )
                ),
            )
            for table in tables.metadata.sorted_tables
        )


class _Names:
    """Generated id -> the business identity it stands for."""

    def __init__(self) -> None:
        self.of: dict[str, str] = {}

    def add(self, obj_id: str, name: str) -> None:
        assert name not in self.of.values(), f"two objects are both {name}"
        self.of[obj_id] = name

    def rename(self, value: Any) -> Any:
        """`value` with every id in it replaced by its name ('?' for an unknown one)."""
        if isinstance(value, str):
            return UUID.sub(lambda m: self.of.get(m.group(0), "?"), value)
        if isinstance(value, tuple):
            return tuple(self.rename(v) for v in value)
        return value


def _payout_name(payout: Payout, names: _Names) -> str:
    statements = sorted(names.rename(s) for s in payout.statement_ids)
    return (
        f"payout[{names.rename(payout.account_id)} {payout.currency} {payout.kind.value}"
        f" {payout.created_at.isoformat()} {statements or payout.key}]"
    )


def _statement_name(statement: Statement, names: _Names) -> str:
    account = names.rename(statement.account_id)
    return f"statement[{account} {statement.currency} {statement.period.start.isoformat()}]"


def business_state(app: Settlement, tenant_id: str) -> dict[str, Any]:
    """A tenant's items, statements, payouts and ledger, free of generated ids."""
    items, statements, payouts = everything(app, tenant_id)
    names = _Names()
    accounts: dict[str, Account] = {}
    for account_id in sorted({i.account_id for i in items} | {p.account_id for p in payouts}):
        accounts[account_id] = app.get_account(tenant_id, account_id)
        names.add(account_id, f"account[{accounts[account_id].shop_id}]")
    for statement in statements:
        names.add(statement.id, _statement_name(statement, names))
    for item in items:
        names.add(item.id, f"item[{item.key}]")
    for payout in sorted(payouts, key=lambda p: (p.created_at, not p.statement_ids)):
        names.add(payout.id, _payout_name(payout, names))
    with app.context.uow() as uow:
        audit = uow.ledger.audit(tenant_id)
        transactions = uow.ledger.transactions(tenant_id)
    drop = {"id", "transaction_id", "release_id", "events"}
    return {
        "accounts": _rows(accounts.values(), names, drop),
        "items": _rows(items, names, drop),
        "statements": _rows(statements, names, drop),
        # A scheduled payout's key hashes its statements' ids: compared through their names.
        "payouts": _rows(payouts, names, drop | {"key"}),
        "balances": sorted(
            (names.rename(account), currency, amount)
            for (account, currency), amount in audit.entry_sums.items()
            if amount
        ),
        "cached_balances": sorted(
            (names.rename(account), currency, amount)
            for (account, currency), amount in audit.cached.items()
            if amount
        ),
        "unbalanced": list(audit.unbalanced),
        "postings": Counter(
            (
                t.kind,
                names.rename(t.reference),
                tuple(sorted(names.rename(plain(e)) for e in t.entries)),
            )
            for t in transactions
        ),
    }


def _rows(objs: Any, names: _Names, drop: set[str]) -> list[Any]:
    return sorted(
        (
            (
                ("is", names.rename(obj.id)),
                *(
                    (f.name, names.rename(plain(getattr(obj, f.name))))
                    for f in attrs.fields(type(obj))
                    if f.name not in drop
                ),
            )
            for obj in objs
        ),
        key=repr,
    )
