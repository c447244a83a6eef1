"""The committed state of the in-memory adapter, with the indexes its queries use.

Units of work stage their changes and apply them here under one lock, after
checking versions and unique keys, so a failed or abandoned command leaves no
trace and two writers behave as they would against a database.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from settlement_adapters.memory.codec import Interned, PairIndex, Row, RowCodec, RowTable
from settlement_adapters.memory.rows import EventRow, PostedTransactions, TransactionRow
from settlement_adapters.memory.sorted_ids import SortedIds
from settlement_adapters.memory.untracked import ItemGroups, ItemOrdinals, UntrackedDict
from settlement_core.ledger import Seal
from settlement_core.lifecycle import BillingItemStatus, PayoutStatus, StatementStatus
from settlement_core.model import (
    Account,
    BillingItem,
    Charge,
    Collection,
    Discrepancy,
    FeeCalculation,
    Freeze,
    Funding,
    FxQuote,
    Payout,
    PayoutSource,
    ReleaseSummary,
    Run,
    Statement,
    status_on,
)
from settlement_core.ports import OutboxMessage

ITEMS = RowCodec(BillingItem)
ITEM_TENANT = ITEMS.at("tenant_id")
ITEM_KIND = ITEMS.at("kind")
ITEM_AMOUNT = ITEMS.at("amount_minor")
ITEM_RUN = ITEMS.at("run_id")
ITEM_STATUS = ITEMS.at("status")
ITEM_STATEMENT = ITEMS.at("statement_id")
# `status_on` on rows (the one status it derives, and when): see MemoryUnitOfWork.as_read.
ITEM_PENDING = BillingItemStatus.PENDING.value
ITEM_STATEMENTED = status_on(BillingItemStatus.PENDING, StatementStatus.CLOSED).value
STATEMENT_OPEN = StatementStatus.OPEN.value
ITEM_VERSION = ITEMS.at("version")

# Where a statement row holds these (each database has a codec of its own, for its
# interned periods and rules, but they all lay a statement out alike).
_STATEMENT_LAYOUT = RowCodec(Statement)
STATEMENT_STATUS = _STATEMENT_LAYOUT.at("status")
STATEMENT_PAYABLE_AT = _STATEMENT_LAYOUT.at("payable_at")
STATEMENT_STATUSES = {status.value: status for status in StatementStatus}


def _sources_row(sources: tuple[PayoutSource, ...]) -> tuple[Any, ...]:
    # One flat tuple of plain values, eight a source: the collector untracks it (and the
    # payout's row) at its first look, where a tuple of tuples waits for a later one.
    flat: list[Any] = []
    for s in sources:
        fx = s.fx
        flat += (s.currency, s.amount_minor, s.converted_minor)
        flat += (None,) * 5 if fx is None else (fx.base, fx.quote, fx.rate, fx.as_of, fx.source)
    return tuple(flat)


def _sources_from(row: tuple[Any, ...]) -> tuple[PayoutSource, ...]:
    found = []
    for at in range(0, len(row), 8):
        currency, amount, converted, base, *quote = row[at : at + 8]
        fx = None if base is None else FxQuote(base, *quote)
        found.append(PayoutSource(currency, amount, converted, fx))
    return tuple(found)


# Payouts are rows as well: one per account and payout run, each read by the release,
# funding and answer jobs. As objects (with their sources and events) a million items'
# hundred thousand payouts made every full collection take 160 ms.
PAYOUTS = RowCodec(Payout, converted={"sources": (_sources_row, _sources_from)})
PAYOUT_STATUSES = {status.value: status for status in PayoutStatus}
PAYOUT_STATUS = PAYOUTS.at("status")
# Where the funding report reads a payout row (MemoryPayoutRepository.unfunded_totals).
PAYOUT_FIELDS = tuple(
    PAYOUTS.at(name) for name in ("tenant_id", "funded", "channel", "currency", "amount_minor")
)

# The statuses whose statements are indexed per account (payouts read them account by account).
BY_ACCOUNT = frozenset({StatementStatus.CLOSED, StatementStatus.CARRIED_FORWARD})

# Every aggregate the adapter stores in a table of its own.
T = TypeVar(
    "T",
    Account,
    BillingItem,
    Statement,
    Payout,
    ReleaseSummary,
    Funding,
    Discrepancy,
    Freeze,
    Run,
    Charge,
    Collection,
    FeeCalculation,
)


def order_key(tenant_id: str, account_id: str, currency: str, order_id: str) -> str:
    """The booked-by-order index's key: ids hold no space (see ids.external_id)."""
    return f"{tenant_id} {account_id} {currency} {order_id}"


class MemoryDatabase:
    """Tables as dicts plus secondary indexes; the reference semantics for every adapter."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Accounts are rows as well: one per shop, each read (and copied) by every batch
        # that books on it.
        self.accounts: RowTable[Account] = RowTable(RowCodec(Account))
        self.account_by_shop: dict[tuple[str, str], str] = {}
        # Items are kept as rows (see codec.py) the collector does not walk (see
        # untracked.py): there are millions of them.
        self.items: UntrackedDict[str, Row] = UntrackedDict()
        self.item_by_key: PairIndex[str, str] = PairIndex()  # (tenant, key) -> item id
        self.item_ordinals = ItemOrdinals()
        self.items_by_statement: ItemGroups[str] = ItemGroups(self.item_ordinals)
        self.items_by_account: ItemGroups[str] = ItemGroups(self.item_ordinals)
        self.items_by_run: ItemGroups[tuple[str, str]] = ItemGroups(self.item_ordinals)
        # order_key(tenant, account, currency, order) -> minor units booked. One flat dict of
        # strings to ints, which the collector does not track: keyed by (tenant, account,
        # currency) to a dict per account, the outer dict was tracked, and every full
        # collection visited its hundred thousand entries at a million items.
        self.booked_by_order: dict[str, int] = {}
        # Statements are rows too (a period and a rule are codes: see Interned): there is
        # one per account and cycle, and every job reads and writes them in thousands.
        interned: dict[str, Interned[Any]] = {"period": Interned(), "rule": Interned()}
        self.statements: RowTable[Statement] = RowTable(RowCodec(Statement, interned))
        # (account, currency) -> (period starts, statement ids), in period order: tuples, so the
        # collector does not walk them and a reader gets both halves of one version at once
        self.statement_series: UntrackedDict[
            tuple[str, str], tuple[tuple[datetime, ...], tuple[str, ...]]
        ] = UntrackedDict()
        # Ids as the keys of dicts valued None, not as sets: a dict of strings to None
        # is untracked by the collector, a set never is (one per account adds up).
        self.statements_by_status: defaultdict[StatementStatus, dict[str, None]]
        self.statements_by_status = defaultdict(dict)
        # (account, status value) -> statement ids, for the statuses payouts read per
        # account (the value, not the member: a tuple holding an enum member stays tracked).
        self.statements_by_account_status: dict[tuple[str, str], dict[str, None]] = {}
        # Open statements as a heap of (period end, id), for closing the oldest first; entries
        # of statements closed since are dropped when they come to the top.
        self.open_queue: list[tuple[datetime, str]] = []
        # Every account id in order, for walking accounts after a cursor.
        self.account_ids: list[str] = []
        self.payouts: RowTable[Payout] = RowTable(PAYOUTS)
        # Payout ids per status in id order, for the jobs that page through one status.
        self.payouts_by_status: defaultdict[PayoutStatus, SortedIds] = defaultdict(SortedIds)
        self.payout_by_key: dict[tuple[str, str], str] = {}
        self.releases: dict[str, ReleaseSummary] = {}
        self.fundings: dict[str, Funding] = {}
        self.funding_by_reference: dict[tuple[str, str], str] = {}
        self.discrepancies: dict[str, Discrepancy] = {}
        self.checkpoints: dict[tuple[str, str], str] = {}
        self.freezes: dict[str, Freeze] = {}
        self.runs: dict[str, Run] = {}
        self.run_by_key: dict[tuple[str, str], str] = {}
        self.charges: dict[str, Charge] = {}
        self.charge_by_reference: dict[tuple[str, str], str] = {}
        self.collections: dict[str, Collection] = {}
        self.collection_by_key: dict[tuple[str, str], str] = {}
        self.fee_calculations: dict[str, FeeCalculation] = {}
        self.fee_calculation_by_event: dict[tuple[str, str, int], str] = {}
        self.freeze_by_reference: dict[tuple[str, str], str] = {}
        self.discrepancy_by_key: dict[tuple[str, str], str] = {}
        # Answers per payout as tuples of rows, oldest first, and the accepted callbacks'
        # nonces per channel: a list of objects per payout and a set of pairs were walked
        # by every full collection, one of each per payout released.
        self.channel_events_by_payout: UntrackedDict[str, tuple[Row, ...]] = UntrackedDict()
        self.nonces: PairIndex[str, bool] = PairIndex()  # (channel, nonce)
        self.transactions = PostedTransactions()
        self.seals: dict[str, Seal] = {}
        self.seals_by_tenant: defaultdict[str, list[Seal]] = defaultdict(list)
        self.transaction_by_reference: PairIndex[str, str] = PairIndex()  # (kind, reference)
        # Dicts of untracked values, which the collector stops walking (a defaultdict it
        # walks always). An account's currencies are a tuple shared by every account with
        # the same ones: once untracked, it never makes the dict tracked again.
        self.balances: dict[tuple[str, str], int] = {}
        self.currencies_by_account: dict[str, tuple[str, ...]] = {}
        self._currency_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Events are kept as rows (see rows.py) and serialised when read.
        self.outbox: list[tuple[EventRow | OutboxMessage, ...]] = []  # chunks of messages
        self.outbox_sent: set[str] = set()
        self.outbox_cursor = 0  # the first chunk with a message not sent
        self.outbox_offset = 0  # and the first such message in it

    @property
    def transaction_by_id(self) -> PostedTransactions:
        """The journal, looked up by transaction id."""
        return self.transactions

    def index_statement(self, statement: Statement, old: StatementStatus | None) -> None:
        """Keep the statement indexes in step with a written statement (`old`: status before)."""
        by_account = self.statements_by_account_status
        if old is None:
            series = (statement.account_id, statement.currency)
            starts, ids = self.statement_series.get(series, ((), ()))
            at = bisect.bisect(starts, statement.period.start)
            self.statement_series[series] = (
                (*starts[:at], statement.period.start, *starts[at:]),
                (*ids[:at], statement.id, *ids[at:]),
            )
        elif old is not statement.status:
            self.statements_by_status[old].pop(statement.id, None)
            key = (statement.account_id, old.value)
            before = by_account.get(key)
            if before is not None:
                before.pop(statement.id, None)
                if not before:
                    del by_account[key]
        else:
            return
        status = statement.status
        self.statements_by_status[status][statement.id] = None
        if status in BY_ACCOUNT:
            key = (statement.account_id, status.value)
            of_account = by_account.get(key)
            if of_account is None:
                of_account = by_account[key] = {}
            of_account[statement.id] = None
        if status is StatementStatus.OPEN:
            heapq.heappush(self.open_queue, (statement.period.end, statement.id))

    def index_payout(self, payout_id: str, old: PayoutStatus | None, new: PayoutStatus) -> None:
        """Keep the payouts' status index in step with a written payout (`old`: status before)."""
        if old is new:
            return
        if old is not None:
            self.payouts_by_status[old].discard(payout_id)
        self.payouts_by_status[new].add(payout_id)

    def settle(self) -> None:
        """Let the tables take the rows of earlier commits the collector has untracked since."""
        self.items.settle()
        self.statements.rows.settle()
        self.accounts.rows.settle()
        self.payouts.rows.settle()
        self.channel_events_by_payout.settle()
        self.statement_series.settle()

    def index_account(self, account: Account) -> None:
        """Index a new account."""
        self.account_by_shop[(account.tenant_id, account.shop_id)] = account.id
        bisect.insort(self.account_ids, account.id)

    def index_items(self, items: Sequence[BillingItem]) -> None:
        """Index new items (an item's keys, statement and order never change)."""
        if not items:
            return
        by_key, by_statement = self.item_by_key, self.items_by_statement.add
        by_account, by_run, booked = (
            self.items_by_account.add,
            self.items_by_run,
            self.booked_by_order,
        )
        first = self.item_ordinals.add([item.id for item in items])
        for ordinal, item in enumerate(items, first):
            by_key.inner(item.tenant_id)[item.key] = item.id
            by_statement(item.statement_id, ordinal)
            by_account(item.account_id, ordinal)
            if item.run_id is not None:
                by_run.add((item.tenant_id, item.run_id), ordinal)
            key = order_key(item.tenant_id, item.account_id, item.currency, item.order_id)
            booked[key] = booked.get(key, 0) + item.amount_minor

    def index_transactions(
        self,
        rows: Sequence[TransactionRow],
        deltas: Mapping[tuple[str, str], int],
        currencies: Mapping[str, Iterable[str]],
    ) -> None:
        """Append one commit's posted transactions and fold their legs into the balances.

        `deltas` and `currencies` are the legs' sums per (account, currency) and the
        currencies per account, which the unit of work kept as it staged the rows:
        folded in once per account instead of once per leg.
        """
        self.transactions.extend(rows)
        by_reference = self.transaction_by_reference
        by_kind: dict[str, dict[str, str]] = {}
        for row in rows:
            # (kind, reference) -> id, with one index per kind looked up once a commit
            inner = by_kind.get(row[2])
            if inner is None:
                inner = by_kind[row[2]] = by_reference.inner(row[2])
            inner[row[3]] = row[0]
        self.fold_balances(deltas, currencies)

    def fold_balances(
        self, deltas: Mapping[tuple[str, str], int], currencies: Mapping[str, Iterable[str]]
    ) -> None:
        """Add sums per (account, currency) to the balances, and note each account's currencies."""
        balances = self.balances
        for key, minor in deltas.items():
            balances[key] = balances.get(key, 0) + minor
        known, shared = self.currencies_by_account, self._currency_sets
        for account, codes in currencies.items():
            had = known.get(account, ())
            for code in codes:
                if code not in had:
                    merged = tuple(sorted({*had, *codes}))
                    known[account] = shared.setdefault(merged, merged)
                    break
