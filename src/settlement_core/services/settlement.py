"""The library's front door: every use case, bound to one set of dependencies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from settlement_core.model import (
    Account,
    ApprovePayout,
    BillingItem,
    OpenAccount,
    Payout,
    RecordBillingItem,
    Statement,
)
from settlement_core.ports import EventPublisher, ItemFilter, Page, PayoutFilter, StatementFilter
from settlement_core.services import accounts, ingest, outbox, payouts, queries, statements
from settlement_core.services.context import Context


class Settlement:
    """Use cases and jobs; each call is one unit of work (jobs: one per batch)."""

    def __init__(self, context: Context) -> None:
        self.context = context

    # accounts
    def get_or_create_account(self, cmd: OpenAccount) -> accounts.AccountReceipt:
        """The account for a shop id, created with its rule on first sight."""
        return accounts.get_or_create_account(self.context, cmd)

    def hold_account(self, tenant_id: str, account_id: str) -> Account:
        """Suspend an account's payouts."""
        return accounts.hold_account(self.context, tenant_id, account_id)

    def release_account_hold(self, tenant_id: str, account_id: str) -> Account:
        """Resume an account's payouts."""
        return accounts.release_account_hold(self.context, tenant_id, account_id)

    def assign_rule(self, tenant_id: str, account_id: str, rule_id: str) -> Account:
        """Pin an account to a rule from its next cycle on."""
        return accounts.assign_rule(self.context, tenant_id, account_id, rule_id)

    # ingest
    def record_billing_item(self, cmd: RecordBillingItem) -> ingest.ItemReceipt:
        """Book one item (idempotent by tenant + key)."""
        return ingest.record_billing_item(self.context, cmd)

    def record_billing_items(self, cmds: Sequence[RecordBillingItem]) -> list[ingest.ItemReceipt]:
        """Book a batch of items in one transaction."""
        return ingest.record_billing_items(self.context, cmds)

    # jobs
    def close_cycles(self, as_of: datetime) -> statements.CloseReport:
        """Close every statement whose period ended by `as_of`."""
        return statements.close_cycles(self.context, as_of)

    def create_payouts(self, as_of: datetime) -> payouts.PayoutReport:
        """Create payouts (or carry balances) for statements payable at `as_of`."""
        return payouts.create_payouts(self.context, as_of)

    def publish_pending(self, publisher: EventPublisher, limit: int = 1000) -> int:
        """Deliver outbox events to the host's bus."""
        return outbox.publish_pending(self.context, publisher, limit)

    # payouts
    def approve_payout(self, cmd: ApprovePayout) -> Payout:
        """Approve a payout waiting for an operator."""
        return payouts.approve_payout(self.context, cmd)

    def mark_payout_submitted(self, tenant_id: str, payout_id: str) -> Payout:
        """Record that a payout went to its channel."""
        return payouts.mark_payout_submitted(self.context, tenant_id, payout_id)

    def record_payout_paid(self, tenant_id: str, payout_id: str) -> Payout:
        """Record that the channel paid a payout."""
        return payouts.record_payout_paid(self.context, tenant_id, payout_id)

    def record_payout_failed(self, tenant_id: str, payout_id: str, retryable: bool) -> Payout:
        """Record that the channel failed a payout."""
        return payouts.record_payout_failed(self.context, tenant_id, payout_id, retryable)

    # queries
    def get_account(self, tenant_id: str, account_id: str) -> Account:
        """One account by id."""
        return queries.get_account(self.context, tenant_id, account_id)

    def find_account(self, tenant_id: str, shop_id: str) -> Account | None:
        """The account for a shop id, if any."""
        return queries.find_account(self.context, tenant_id, shop_id)

    def get_items(self, tenant_id: str, item_ids: Sequence[str]) -> list[BillingItem]:
        """Billing items by id."""
        return queries.get_items(self.context, tenant_id, item_ids)

    def query_items(
        self, where: ItemFilter, after: str | None = None, limit: int = 100
    ) -> Page[BillingItem]:
        """Billing items by filter, a page at a time."""
        return queries.query_items(self.context, where, after, limit)

    def get_statement(self, tenant_id: str, statement_id: str) -> Statement:
        """One statement by id."""
        return queries.get_statement(self.context, tenant_id, statement_id)

    def query_statements(
        self, where: StatementFilter, after: str | None = None, limit: int = 100
    ) -> Page[Statement]:
        """Statements by filter, a page at a time."""
        return queries.query_statements(self.context, where, after, limit)

    def get_payout(self, tenant_id: str, payout_id: str) -> Payout:
        """One payout by id."""
        return queries.get_payout(self.context, tenant_id, payout_id)

    def query_payouts(
        self, where: PayoutFilter, after: str | None = None, limit: int = 100
    ) -> Page[Payout]:
        """Payouts by filter, a page at a time."""
        return queries.query_payouts(self.context, where, after, limit)

    def balance(self, tenant_id: str, account_id: str) -> queries.Balance:
        """An account's pending and available balances."""
        return queries.balance(self.context, tenant_id, account_id)
