"""Repository ports, one per aggregate, plus the ledger and idempotency stores.

Objects returned by `get`/`find_*` belong to the current unit of work: changes
to them are saved on commit with an optimistic version check. Bulk methods are
set-based so a SQL adapter can run them as single statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from settlement_core.ledger import JournalRecord, JournalTransaction, Seal
from settlement_core.lifecycle import (
    ChargeStatus,
    CollectionStatus,
    DiscrepancyStatus,
    FreezeStatus,
    ReleaseSummaryStatus,
)
from settlement_core.model import (
    Account,
    BillingItem,
    ChannelEvent,
    Charge,
    Collection,
    Discrepancy,
    FeeCalculation,
    Freeze,
    Funding,
    ItemKind,
    Payout,
    ReleaseSummary,
    Run,
    Statement,
)
from settlement_core.ports.queries import (
    AccountDue,
    ChannelTotal,
    ClosedStatement,
    ItemFilter,
    LedgerAudit,
    Page,
    PayoutFilter,
    StatementFilter,
)


class AccountRepository(Protocol):
    """Settlement parties, unique by (tenant, shop id)."""

    def add(self, account: Account) -> None:
        """Stage a new account."""
        ...

    def get(self, tenant_id: str, account_id: str) -> Account:
        """The account, or NotFound (also for another tenant's account)."""
        ...

    def find_by_shop(self, tenant_id: str, shop_id: str) -> Account | None:
        """The account for a host's shop id, if any."""
        ...

    def find_by_shops(self, tenant_id: str, shop_ids: Sequence[str]) -> dict[str, Account]:
        """The accounts of any of these shop ids, by shop id (a few queries for a batch)."""
        ...


class BillingItemRepository(Protocol):
    """Billing items, unique by (tenant, key)."""

    def add(self, item: BillingItem) -> None:
        """Stage a new item."""
        ...

    def get(self, tenant_id: str, item_id: str) -> BillingItem:
        """The item, or NotFound."""
        ...

    def get_many(self, tenant_id: str, item_ids: Sequence[str]) -> list[BillingItem]:
        """The items that exist among `item_ids`, in the order asked."""
        ...

    def find_by_key(self, tenant_id: str, key: str) -> BillingItem | None:
        """The item recorded under an idempotency key, if any."""
        ...

    def find_by_keys(self, tenant_id: str, keys: Sequence[str]) -> dict[str, BillingItem]:
        """The items recorded under any of these keys, by key (one query for a batch)."""
        ...

    def booked_for_order(
        self, tenant_id: str, account_id: str, order_id: str, currency: str
    ) -> int:
        """What is booked so far for one order, in minor units."""
        ...

    def recount(self, statement_ids: Sequence[str]) -> dict[str, int]:
        """Full sums of these statements' items (one GROUP BY), ignoring running totals."""
        ...

    def totals_of_kinds(
        self, statement_ids: Sequence[str], kinds: frozenset[ItemKind]
    ) -> dict[str, int]:
        """Sums of these statements' items of the given kinds (one GROUP BY); 0 where none."""
        ...

    def move_by_statements(self, statement_ids: Sequence[str], trigger: str) -> int:
        """Apply a lifecycle trigger to every item of these statements that allows it.

        Returns how many items moved. For `CLOSE_TRIGGER` a store may write no
        item row and read the move off the statement instead (`status_on`); every
        item it returns afterwards shows the moved status either way.
        """
        ...

    def query(self, where: ItemFilter, after: str | None, limit: int) -> Page[BillingItem]:
        """Items matching a filter, in id order after a cursor."""
        ...


class StatementRepository(Protocol):
    """Statements, unique by (account, currency, period start)."""

    def add(self, statement: Statement) -> None:
        """Stage a new statement."""
        ...

    def get(self, tenant_id: str, statement_id: str) -> Statement:
        """The statement, or NotFound."""
        ...

    def find_covering(self, account_id: str, currency: str, instant: datetime) -> Statement | None:
        """The statement whose period holds `instant`, if one was opened."""
        ...

    def neighbours(
        self, account_id: str, currency: str, instant: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """End of the latest period before `instant` and start of the first after it."""
        ...

    def load_series(
        self, series: Sequence[tuple[str, str]], start: datetime, end: datetime
    ) -> None:
        """Read these (account, currency) series around [start, end] in a few queries.

        Afterwards `find_covering` and `neighbours` answer any instant in the
        window without a query of their own; the answers do not change.
        """
        ...

    def due_to_close(self, as_of: datetime, limit: int) -> list[Statement]:
        """Open statements whose period ended at or before `as_of`, oldest first."""
        ...

    def close_due(self, as_of: datetime, limit: int, at: datetime) -> list[ClosedStatement]:
        """Close up to `limit` of the statements `due_to_close` names, set-based, oldest first.

        Each is recounted from its items (one GROUP BY) and moved through the
        statement lifecycle's "close" in one bulk write, with `closed_at` and
        `recount_minor` set. Rows another worker holds are skipped. Records no
        events: the caller records them (see `Statement.close`).
        """
        ...

    def accounts_with_payable(self, as_of: datetime, after: str | None, limit: int) -> list[str]:
        """Ids of accounts holding closed statements payable at `as_of`, in id order."""
        ...

    def payable_for_accounts(
        self, account_ids: Sequence[str], as_of: datetime
    ) -> dict[str, list[Statement]]:
        """These accounts' closed statements payable at `as_of`, by account then period.

        One query, locking the rows it returns; rows another worker holds are
        skipped, so two workers never settle the same statement.
        """
        ...

    def carried_for_accounts(self, account_ids: Sequence[str]) -> dict[str, list[Statement]]:
        """These accounts' statements carried forward and not yet paid out, by period."""
        ...

    def due_by_account(self, tenant_id: str, payable_by: datetime) -> list[AccountDue]:
        """Per account and currency: open, closed and carried statements payable by then."""
        ...

    def query(self, where: StatementFilter, after: str | None, limit: int) -> Page[Statement]:
        """Statements matching a filter, in id order after a cursor."""
        ...


class PayoutRepository(Protocol):
    """Payouts, unique by key (one per statement set)."""

    def add(self, payout: Payout) -> None:
        """Stage a new payout."""
        ...

    def get(self, tenant_id: str, payout_id: str) -> Payout:
        """The payout, or NotFound."""
        ...

    def find_by_key(self, tenant_id: str, key: str) -> Payout | None:
        """The payout created for a statement set, if any."""
        ...

    def find(self, payout_id: str) -> Payout | None:
        """A payout of any tenant (for channel answers, which name no tenant)."""
        ...

    def get_many(self, tenant_id: str, payout_ids: Sequence[str]) -> list[Payout]:
        """The payouts that exist among `payout_ids`, in the order asked."""
        ...

    def releasable(self, created_by: datetime, after: str | None, limit: int) -> list[Payout]:
        """Scheduled payouts created by then, ready to go and in no release yet, in id order."""
        ...

    def awaiting_answer(
        self, submitted_before: datetime, after: str | None, limit: int
    ) -> list[Payout]:
        """Ongoing or unknown payouts submitted at or before an instant, in id order."""
        ...

    def due_for_retry(self, as_of: datetime, after: str | None, limit: int) -> list[Payout]:
        """Failed payouts whose next attempt is due at `as_of`, in id order."""
        ...

    def unfunded_totals(self, tenant_id: str) -> list[ChannelTotal]:
        """Payouts waiting for approval or release with no channel money set aside."""
        ...

    def query(self, where: PayoutFilter, after: str | None, limit: int) -> Page[Payout]:
        """Payouts matching a filter, in id order after a cursor."""
        ...


class ReleaseSummaryRepository(Protocol):
    """Release summaries per channel."""

    def add(self, summary: ReleaseSummary) -> None:
        """Stage a new summary."""
        ...

    def get(self, tenant_id: str, summary_id: str) -> ReleaseSummary:
        """The summary, or NotFound."""
        ...

    def find(
        self,
        tenant_id: str,
        status: ReleaseSummaryStatus | None = None,
        channel: str | None = None,
        currency: str | None = None,
    ) -> list[ReleaseSummary]:
        """A tenant's summaries, oldest first, narrowed by status, channel and currency."""
        ...


class FundingRepository(Protocol):
    """Channel fundings, unique by (tenant, reference)."""

    def add(self, funding: Funding) -> None:
        """Stage a new funding."""
        ...

    def find_by_reference(self, tenant_id: str, reference: str) -> Funding | None:
        """The funding recorded under a bank reference, if any."""
        ...


class ChannelEventRepository(Protocol):
    """Every answer a channel gave; a callback's (channel, nonce) is accepted once."""

    def add(self, event: ChannelEvent) -> None:
        """Stage an answer (ConcurrencyConflict on commit if its nonce was taken)."""
        ...

    def nonce_seen(self, channel: str, nonce: str) -> bool:
        """Whether a callback with this nonce was accepted before."""
        ...

    def for_payout(self, tenant_id: str, payout_id: str) -> list[ChannelEvent]:
        """The answers about one payout, oldest first."""
        ...


class DiscrepancyRepository(Protocol):
    """Recorded discrepancies, unique by (tenant, key): a finding is recorded once."""

    def add(self, discrepancy: Discrepancy) -> None:
        """Stage a new discrepancy (ConcurrencyConflict on commit if its key was taken)."""
        ...

    def get(self, tenant_id: str, discrepancy_id: str) -> Discrepancy:
        """The discrepancy, or NotFound."""
        ...

    def find_by_key(self, tenant_id: str, key: str) -> Discrepancy | None:
        """The discrepancy recorded for a finding, if any."""
        ...

    def query(
        self, tenant_id: str, status: DiscrepancyStatus | None, after: str | None, limit: int
    ) -> Page[Discrepancy]:
        """A tenant's discrepancies, in id order after a cursor."""
        ...


class FreezeRepository(Protocol):
    """Freezes of available balances, unique by (tenant, reference)."""

    def add(self, freeze: Freeze) -> None:
        """Stage a new freeze (ConcurrencyConflict on commit if its reference was taken)."""
        ...

    def find_by_reference(self, tenant_id: str, reference: str) -> Freeze | None:
        """The freeze made under a reference, if any."""
        ...

    def expired(self, as_of: datetime, limit: int) -> list[Freeze]:
        """Held freezes of any tenant whose expiry has passed, oldest first."""
        ...

    def query(
        self,
        tenant_id: str,
        account_id: str | None,
        status: FreezeStatus | None,
        after: str | None,
        limit: int,
    ) -> Page[Freeze]:
        """A tenant's freezes, in id order after a cursor."""
        ...


class RunRepository(Protocol):
    """Calculation runs, unique by (tenant, run id), and the item reads revocation needs."""

    def add(self, run: Run) -> None:
        """Stage a new run (ConcurrencyConflict on commit if its run id was taken)."""
        ...

    def find(self, tenant_id: str, run_id: str) -> Run | None:
        """The run registered under a host's run id, if any."""
        ...

    def items(
        self, tenant_id: str, run_id: str, after: str | None, limit: int
    ) -> list[tuple[BillingItem, str]]:
        """Up to `limit` of a run's items in id order after a cursor, each with its shop id.

        One indexed range read, joined to the accounts (a reversal is booked by shop id).
        """
        ...

    def paid_out_items(self, tenant_id: str, run_id: str) -> int:
        """How many of a run's items sit on statements already paid out."""
        ...

    def paid_out(self, statement_ids: Sequence[str]) -> set[str]:
        """Those of these statements already paid out (one query)."""
        ...

    def gated_statements(self, statement_ids: Sequence[str], as_of: datetime) -> set[str]:
        """Those of these statements holding items of a run that keeps them out of payouts.

        A run gates while it awaits approval or is being revoked, and after its
        revocation until `hold_until` (see Run).
        """
        ...


class ChargeRepository(Protocol):
    """Non-order charges, unique by (tenant, reference)."""

    def add(self, charge: Charge) -> None:
        """Stage a new charge (ConcurrencyConflict on commit if its reference was taken)."""
        ...

    def get(self, tenant_id: str, charge_id: str) -> Charge:
        """The charge, or NotFound."""
        ...

    def find_by_reference(self, tenant_id: str, reference: str) -> Charge | None:
        """The charge proposed under a reference, if any."""
        ...

    def query(
        self, tenant_id: str, status: ChargeStatus | None, after: str | None, limit: int
    ) -> Page[Charge]:
        """A tenant's charges, in id order after a cursor."""
        ...


class CollectionRepository(Protocol):
    """Receivables billed to gross-settled parties, unique by (tenant, key)."""

    def add(self, collection: Collection) -> None:
        """Stage a new collection (ConcurrencyConflict on commit if its key was taken)."""
        ...

    def get(self, tenant_id: str, collection_id: str) -> Collection:
        """The collection, or NotFound."""
        ...

    def query(
        self,
        tenant_id: str,
        account_id: str | None,
        status: CollectionStatus | None,
        after: str | None,
        limit: int,
    ) -> Page[Collection]:
        """A tenant's collections (of one account, in one state), in id order after a cursor."""
        ...


class FeeCalculationRepository(Protocol):
    """Priced order events, unique by (tenant, order id, sequence); written once."""

    def add(self, calculation: FeeCalculation) -> None:
        """Stage a new calculation (ConcurrencyConflict on commit if its key was taken)."""
        ...

    def find(self, tenant_id: str, order_id: str, sequence: int) -> FeeCalculation | None:
        """The calculation of one order event, if any."""
        ...

    def for_order(self, tenant_id: str, order_id: str) -> list[FeeCalculation]:
        """Every calculation of an order, by sequence."""
        ...


class CheckpointRepository(Protocol):
    """Where jobs keep their place (a cursor per tenant and job), changed compare-and-set."""

    def get(self, tenant_id: str, name: str) -> str | None:
        """The checkpoint's value, or None when the job never ran."""
        ...

    def put(self, tenant_id: str, name: str, value: str, expected: str | None) -> None:
        """Set the value if it is still `expected` (ConcurrencyConflict otherwise, at commit)."""
        ...


class Ledger(Protocol):
    """The journal: post balanced transactions, read derived balances."""

    def post(self, transaction: JournalTransaction) -> None:
        """Stage a transaction; (kind, reference) is unique, so a replay cannot post twice."""
        ...

    def get(self, transaction_id: str) -> JournalTransaction:
        """A posted transaction, or NotFound."""
        ...

    def find(self, kind: str, reference: str) -> JournalTransaction | None:
        """The transaction of a kind posted for a reference, if any."""
        ...

    def balance(self, account: str, currency: str) -> int:
        """The sum of a ledger account's entries in one currency."""
        ...

    def balances(self, account: str) -> dict[str, int]:
        """A ledger account's non-zero balances per currency."""
        ...

    def balances_of(self, accounts: Sequence[str]) -> dict[str, dict[str, int]]:
        """The non-zero balances per currency of each of these ledger accounts, in a few queries.

        Every account asked for is a key, with an empty dict when it has no balance.
        """
        ...

    def by_references(self, tenant_id: str, references: Sequence[str]) -> list[JournalTransaction]:
        """A tenant's transactions about any of these objects, in posting order."""
        ...

    def unsealed(self, tenant_id: str, limit: int) -> list[JournalRecord]:
        """A tenant's transactions with no seal yet, in id order, as stored."""
        ...

    def last_seal(self, tenant_id: str) -> Seal | None:
        """The tip of a tenant's chain."""
        ...

    def add_seals(self, seals: Sequence[Seal]) -> None:
        """Stage seals (ConcurrencyConflict on commit if a seq or transaction is taken)."""
        ...

    def sealed(
        self, tenant_id: str, after_seq: int, limit: int
    ) -> list[tuple[Seal, JournalRecord | None]]:
        """A tenant's seals after `after_seq`, in order, each with its record as stored now."""
        ...

    def audit(self, tenant_id: str | None = None) -> LedgerAudit:
        """Unbalanced transactions and entry sums vs cached balances, summed in storage."""
        ...

    def transactions(self, tenant_id: str | None = None) -> list[JournalTransaction]:
        """Every posted transaction (for checks and audits), in posting order."""
        ...
