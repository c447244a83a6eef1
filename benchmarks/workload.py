"""The seeded workload every scenario replays: accounts, billing items, rules, instants.

A data set is a seed, an item count and an account count; its items are drawn
from one `random.Random(seed)` stream while iterating, so 1M items never sit in
memory at once and every run (library or raw baseline) sees the same rows.

Shape, after issue 8: about ten items per account; three accounts in five have
items on two days, the others on one, so N items over N/10 accounts make about
1.6 statements per account (1M items, 100k accounts, ~160k statements). About
one item in twenty is a refund. A "hot" data set sends every other item to one
account (half of all items on one seller).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from settlement_adapters.channels import SimulatedBank
from settlement_core.model import DEFAULT_CHANNEL, ItemKind, OpenAccount, RecordBillingItem
from settlement_core.money import from_minor
from settlement_core.ports import Clock
from settlement_core.rules import Cycle, PayoutRule, RuleEngine
from settlement_core.testing.fakes import ManualClock, StaticFxRates

TENANT = "bench"
WARMUP_TENANT = "bench-warmup"
CURRENCY = "USD"
DAY0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday; items fall on Monday and Tuesday
NOW = DAY0 + timedelta(days=2, hours=1)  # Wednesday 01:00: both days closed and payable
RATES = {("EUR", "USD"): Decimal("1.10")}
ITEMS_PER_ACCOUNT = 10
REFUND_SHARE = 0.05
RAW_COLUMNS = (
    "id",
    "tenant_id",
    "item_key",
    "account_id",
    "order_id",
    "kind",
    "amount_minor",
    "currency",
    "occurred_at",
    "recorded_at",
    "statement_id",
    "request_hash",
    "basis",
    "order_total_minor",
    "run_id",
    "status",
    "version",
)  # the 17 columns of settlement_billing_items


class ItemSpec(NamedTuple):
    """One billing item, compactly: everything a command or a raw row is built from."""

    seq: int
    account: int
    kind: ItemKind
    cents: int
    occurred_at: datetime


@dataclass(frozen=True)
class DataSet:
    """`items` billing items over `accounts` accounts, drawn from `seed`."""

    seed: int
    items: int
    accounts: int
    hot: bool = False

    @classmethod
    def sized(cls, seed: int, items: int, hot: bool = False) -> DataSet:
        """A data set with the issue's ratio of items to accounts."""
        return cls(seed, items, max(1, items // ITEMS_PER_ACCOUNT), hot)

    @property
    def label(self) -> str:
        """Short name for logs and file names."""
        return f"{'hot' if self.hot else 'uniform'}-{self.items}"

    def specs(self) -> Iterator[ItemSpec]:
        """Every item, in recording order (same sequence on every call)."""
        rng = random.Random(f"{self.seed}:{self.items}:{self.accounts}:{self.hot}")
        for seq in range(self.items):
            if self.hot and seq % 2 == 0:
                account = 0
            elif self.hot and self.accounts > 1:
                account = 1 + rng.randrange(self.accounts - 1)
            else:
                account = rng.randrange(self.accounts)
            day = rng.randrange(2) if two_days(account) else 0
            seconds = rng.randrange(86_400)
            if rng.random() < REFUND_SHARE:
                kind, cents = ItemKind.REFUND, -rng.randint(100, 2_000)
            else:
                kind, cents = ItemKind.SALE, rng.randint(100, 50_000)
            when = DAY0 + timedelta(days=day, seconds=seconds)
            yield ItemSpec(seq, account, kind, cents, when)

    def batches(self, size: int) -> Iterator[list[ItemSpec]]:
        """The items in chunks of `size`."""
        chunk: list[ItemSpec] = []
        for spec in self.specs():
            chunk.append(spec)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def two_days(account: int) -> bool:
    """Whether an account has items on both days (three accounts in five)."""
    return account % 5 < 3


def shop_id(account: int) -> str:
    """The host's shop id of an account."""
    return f"shop-{account:07d}"


def open_account(account: int, tenant: str = TENANT) -> OpenAccount:
    """The command opening an account."""
    return OpenAccount(tenant_id=tenant, shop_id=shop_id(account))


def command(spec: ItemSpec, tenant: str = TENANT) -> RecordBillingItem:
    """The library command for an item."""
    order = f"ord-{spec.seq:08d}"
    return RecordBillingItem(
        tenant_id=tenant,
        shop_id=shop_id(spec.account),
        key=f"{order}:{spec.kind.value}",
        order_id=order,
        kind=spec.kind,
        amount=from_minor(spec.cents, CURRENCY),
        occurred_at=spec.occurred_at,
    )


def raw_account_id(account: int) -> str:
    """A UUID-shaped account id for the raw tables."""
    return str(uuid.UUID(int=(1 << 64) | account))


def raw_row(spec: ItemSpec, text_times: bool) -> tuple[object, ...]:
    """The 17 values of a bare item row (times as ISO text for SQLite, else naive UTC)."""
    order = f"ord-{spec.seq:08d}"
    key = f"{order}:{spec.kind.value}"
    occurred = spec.occurred_at.replace(tzinfo=None)
    recorded = NOW.replace(tzinfo=None)
    day = (spec.occurred_at - DAY0).days
    statement = str(uuid.UUID(int=(2 << 64) | spec.account << 8 | day))
    return (
        str(uuid.UUID(int=spec.seq + 1)),
        TENANT,
        key,
        raw_account_id(spec.account),
        order,
        spec.kind.value,
        spec.cents,
        CURRENCY,
        occurred.isoformat(sep=" ") if text_times else occurred,
        recorded.isoformat(sep=" ") if text_times else recorded,
        statement,
        hashlib.sha256(key.encode()).hexdigest(),
        "delta",
        None,
        None,
        "pending",
        1,
    )


def rules() -> RuleEngine:
    """Daily cycles, paid the day after, no threshold: every account gets a payout."""
    engine = RuleEngine(default_rule_id="daily")
    engine.define(PayoutRule(rule_id="daily", cycle=Cycle.daily()))
    engine.validate()
    return engine


def clock() -> ManualClock:
    """A clock standing at NOW."""
    return ManualClock(NOW)


def fx() -> StaticFxRates:
    """Fixed rates (the workload is single-currency; payouts never convert)."""
    return StaticFxRates(RATES)


def bank(clock: Clock) -> SimulatedBank:
    """The channel every account pays out through: it pays everything, half an hour later."""
    return SimulatedBank(name=DEFAULT_CHANNEL, secret=b"bench-channel-secret", clock=clock, seed=0)
