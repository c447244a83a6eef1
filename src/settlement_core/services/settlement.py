"""The library's front door: every use case, bound to one set of dependencies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from settlement_core.fees import FactorProvider, FeeEngine, Order
from settlement_core.intake import FieldMapping, StatusFlow, WindowPlan
from settlement_core.ledger import Entry
from settlement_core.lifecycle import CollectionStatus, DiscrepancyStatus
from settlement_core.model import (
    Account,
    ApprovePayout,
    BillingItem,
    ChannelEvent,
    Charge,
    Collection,
    Discrepancy,
    FeeCalculation,
    Freeze,
    InstantPayout,
    OpenAccount,
    OpenRun,
    Payout,
    ProposeCharge,
    RecordBillingItem,
    ReleaseSummary,
    Run,
    Statement,
)
from settlement_core.money import Money
from settlement_core.ports import (
    ChannelRecord,
    EventPublisher,
    ItemFilter,
    OrderSource,
    Page,
    PayoutFilter,
    StatementFilter,
)
from settlement_core.services import (
    accounts,
    answers,
    channel_reconcile,
    charges,
    collect,
    corrections,
    dispatch,
    fee_booking,
    freezes,
    ingest,
    instant,
    journal_chain,
    operations,
    order_receivables,
    outbox,
    payout_outcomes,
    payouts,
    queries,
    receivables,
    releases,
    runs,
    statements,
    trace,
)
from settlement_core.services import reconcile as reconciliation
from settlement_core.services.channel_reconcile import Matching
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

    def prepare_release(self, as_of: datetime) -> tuple[str, ...]:
        """Group payouts ready to go into release summaries per channel (R-REL-1)."""
        return releases.prepare_release(self.context, as_of)

    def release(self, tenant_id: str, summary_id: str) -> ReleaseSummary:
        """Send a funded summary's payouts to its channel (R-REL-3)."""
        return dispatch.release(self.context, tenant_id, summary_id)

    def retry_failed_payouts(self, as_of: datetime) -> dispatch.DispatchReport:
        """Resend failed payouts whose backoff has passed (R-PAY-7)."""
        return dispatch.retry_failed_payouts(self.context, as_of)

    def poll_channels(self, as_of: datetime) -> dispatch.DispatchReport:
        """Ask the channels about payouts still waiting for an answer (R-REL-4)."""
        return dispatch.poll_channels(self.context, as_of)

    # channels and funding
    def record_funding(
        self, tenant_id: str, channel: str, amount: Money, reference: str
    ) -> releases.FundingReceipt:
        """Record money sent to a channel (idempotent by bank reference) (R-REL-2)."""
        return releases.record_funding(self.context, tenant_id, channel, amount, reference)

    def handle_callback(
        self, channel: str, body: bytes, headers: Mapping[str, str]
    ) -> answers.CallbackReceipt:
        """Verify and apply a channel's signed callback, once (R-SEC-1)."""
        return answers.handle_callback(self.context, channel, body, headers)

    def operations_report(self, tenant_id: str) -> operations.OperationsReport:
        """What to fund and release, per channel (R-REL-1)."""
        return operations.operations_report(self.context, tenant_id)

    def funding_forecast(
        self, tenant_id: str, until: datetime
    ) -> tuple[operations.ForecastLine, ...]:
        """What each channel will need for the payouts due by `until`."""
        return operations.funding_forecast(self.context, tenant_id, until)

    # reconciliation
    def reconcile(
        self,
        tenant_id: str,
        as_of: datetime,
        *,
        checks: Sequence[str] = reconciliation.CHECKS,
        stuck_after: timedelta = timedelta(days=1),
        dry_run: bool = False,
    ) -> reconciliation.ReconciliationReport:
        """Check statements, payouts, the ledger and stuck states; record differences."""
        return reconciliation.reconcile(
            self.context,
            tenant_id,
            as_of,
            checks=checks,
            stuck_after=stuck_after,
            dry_run=dry_run,
        )

    def reconcile_recent(
        self,
        tenant_id: str,
        as_of: datetime,
        *,
        stuck_after: timedelta = timedelta(hours=1),
        dry_run: bool = False,
    ) -> reconciliation.ReconciliationReport:
        """The frequent, cheap check: only what changed since its last run."""
        return reconciliation.reconcile_recent(
            self.context, tenant_id, as_of, stuck_after=stuck_after, dry_run=dry_run
        )

    def reconcile_channel(
        self,
        tenant_id: str,
        channel: str,
        records: Iterable[ChannelRecord],
        *,
        since: datetime,
        until: datetime,
        matching: Matching = Matching.ONE_TO_ONE,
        amount_tolerance_minor: int = 0,
        date_tolerance: timedelta = timedelta(0),
        dry_run: bool = False,
    ) -> reconciliation.ReconciliationReport:
        """Match payouts sent in [since, until) with a channel's settlement report."""
        return channel_reconcile.reconcile_channel(
            self.context,
            tenant_id,
            channel,
            records,
            since=since,
            until=until,
            matching=matching,
            amount_tolerance_minor=amount_tolerance_minor,
            date_tolerance=date_tolerance,
            dry_run=dry_run,
        )

    def to_suspense(
        self, tenant_id: str, discrepancy_id: str, account: str, by: str, reason: str
    ) -> Discrepancy:
        """Park a discrepancy's difference on the tenant's suspense account, and resolve it."""
        return corrections.to_suspense(self.context, tenant_id, discrepancy_id, account, by, reason)

    def reverse_posting(
        self, tenant_id: str, discrepancy_id: str, transaction_id: str, by: str, reason: str
    ) -> Discrepancy:
        """Post the exact reversal of a wrong posting, and resolve the discrepancy."""
        return corrections.reverse_posting(
            self.context, tenant_id, discrepancy_id, transaction_id, by, reason
        )

    def repost(
        self,
        tenant_id: str,
        discrepancy_id: str,
        transaction_id: str,
        entries: Sequence[Entry],
        by: str,
        reason: str,
    ) -> Discrepancy:
        """Reverse a wrong posting and post corrected legs, and resolve the discrepancy."""
        return corrections.repost(
            self.context, tenant_id, discrepancy_id, transaction_id, entries, by, reason
        )

    def seal_journal(self, tenant_id: str) -> int:
        """Chain a tenant's new journal transactions by hash (run after posting, as a job)."""
        return journal_chain.seal_journal(self.context, tenant_id)

    def verify_journal(self, tenant_id: str, *, dry_run: bool = False) -> journal_chain.ChainReport:
        """Recompute a tenant's journal chain and report the first broken link."""
        return journal_chain.verify_journal(self.context, tenant_id, dry_run=dry_run)

    def get_discrepancy(self, tenant_id: str, discrepancy_id: str) -> Discrepancy:
        """One recorded discrepancy."""
        return queries.get_discrepancy(self.context, tenant_id, discrepancy_id)

    def discrepancies(
        self,
        tenant_id: str,
        status: DiscrepancyStatus | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> Page[Discrepancy]:
        """Recorded discrepancies, a page at a time."""
        return queries.query_discrepancies(self.context, tenant_id, status, after, limit)

    def resolve_discrepancy(
        self, tenant_id: str, discrepancy_id: str, resolved_by: str, reason: str
    ) -> Discrepancy:
        """Close a discrepancy, saying who and why."""
        return reconciliation.resolve_discrepancy(
            self.context, tenant_id, discrepancy_id, resolved_by, reason
        )

    # non-order charges
    def propose_charge(self, cmd: ProposeCharge) -> Charge:
        """Propose a deposit, penalty or platform fee for approval."""
        return charges.propose_charge(self.context, cmd)

    def approve_charge(self, tenant_id: str, charge_id: str, approved_by: str) -> Charge:
        """Approve a charge (not its proposer): it is booked as a billing item."""
        return charges.approve_charge(self.context, tenant_id, charge_id, approved_by)

    def reject_charge(self, tenant_id: str, charge_id: str, rejected_by: str) -> Charge:
        """Reject a charge: nothing is booked."""
        return charges.reject_charge(self.context, tenant_id, charge_id, rejected_by)

    # fee engine results, stored with their factor snapshots (R-FEE-1..3)
    def settle_order(
        self,
        engine: FeeEngine,
        order: Order,
        sequence: int,
        provider: FactorProvider | None = None,
        run_id: str | None = None,
    ) -> FeeCalculation:
        """Price an order event, book its lines, keep the calculation; idempotent by event."""
        return fee_booking.settle_order(self.context, engine, order, sequence, provider, run_id)

    def fee_calculations(self, tenant_id: str, order_id: str) -> list[FeeCalculation]:
        """Every stored calculation of an order, by sequence."""
        return fee_booking.fee_calculations(self.context, tenant_id, order_id)

    # receivables of gross-settled parties (R-FEE-4)
    def set_settlement_mode(self, tenant_id: str, account_id: str, mode: str) -> Account:
        """Net ("net") or gross ("gross") settlement from the account's next payout run."""
        return receivables.set_settlement_mode(self.context, tenant_id, account_id, mode)

    def record_collection(
        self, tenant_id: str, collection_id: str, amount: Money, reference: str
    ) -> Collection:
        """The party paid (part of) a collection; idempotent by (collection, bank reference)."""
        return receivables.record_collection(
            self.context, tenant_id, collection_id, amount, reference
        )

    def offset_collection(
        self, tenant_id: str, collection_id: str, by: str, reason: str
    ) -> Collection:
        """Net what a collection still bills against the party's payouts instead."""
        return receivables.offset_collection(self.context, tenant_id, collection_id, by, reason)

    def get_collection(self, tenant_id: str, collection_id: str) -> Collection:
        """One collection by id."""
        return queries.get_collection(self.context, tenant_id, collection_id)

    def query_collections(
        self,
        tenant_id: str,
        account_id: str | None = None,
        status: CollectionStatus | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> Page[Collection]:
        """A tenant's collections, in id order after a cursor."""
        return queries.query_collections(self.context, tenant_id, account_id, status, after, limit)

    # balance freezes (try / confirm / cancel)
    def freeze(
        self,
        tenant_id: str,
        account_id: str,
        amount: Money,
        reference: str,
        expires_at: datetime | None = None,
    ) -> Freeze:
        """Set part of an available balance aside; idempotent by (tenant, reference)."""
        return freezes.freeze(self.context, tenant_id, account_id, amount, reference, expires_at)

    def confirm_freeze(self, tenant_id: str, reference: str) -> Freeze:
        """Spend a frozen amount."""
        return freezes.confirm_freeze(self.context, tenant_id, reference)

    def cancel_freeze(self, tenant_id: str, reference: str) -> Freeze:
        """Give a frozen amount back to the available balance."""
        return freezes.cancel_freeze(self.context, tenant_id, reference)

    def expire_freezes(self, as_of: datetime) -> int:
        """Give back every freeze past its expiry (a job)."""
        return freezes.expire_freezes(self.context, as_of)

    # payouts
    def approve_payout(self, cmd: ApprovePayout) -> Payout:
        """Approve a payout waiting for an operator."""
        return payout_outcomes.approve_payout(self.context, cmd)

    def cancel_payout(self, tenant_id: str, payout_id: str, cancelled_by: str) -> Payout:
        """Withdraw a payout that was not released; its money returns to the balance."""
        return payout_outcomes.cancel_payout(self.context, tenant_id, payout_id, cancelled_by)

    def instant_payout(self, cmd: InstantPayout) -> Payout:
        """Pay part of an available balance now (R-PAY-6)."""
        return instant.instant_payout(self.context, cmd)

    def mark_payout_submitted(self, tenant_id: str, payout_id: str) -> Payout:
        """Record that a payout went to a channel the host drives itself."""
        return payout_outcomes.mark_payout_submitted(self.context, tenant_id, payout_id)

    def record_payout_paid(self, tenant_id: str, payout_id: str) -> Payout:
        """Record that the channel paid a payout."""
        return payout_outcomes.record_payout_paid(self.context, tenant_id, payout_id)

    def record_payout_failed(
        self, tenant_id: str, payout_id: str, retryable: bool, code: str | None = None
    ) -> Payout:
        """Record that the channel failed a payout."""
        return payout_outcomes.record_payout_failed(
            self.context, tenant_id, payout_id, retryable, code
        )

    def record_payout_returned(
        self, tenant_id: str, payout_id: str, code: str | None = None
    ) -> Payout:
        """Record that a paid payout came back from the receiving bank."""
        return payout_outcomes.record_payout_returned(self.context, tenant_id, payout_id, code)

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

    def get_release(self, tenant_id: str, summary_id: str) -> ReleaseSummary:
        """One release summary by id."""
        return queries.get_release(self.context, tenant_id, summary_id)

    def channel_events(self, tenant_id: str, payout_id: str) -> list[ChannelEvent]:
        """Everything the channel said about one payout, oldest first."""
        return queries.channel_events(self.context, tenant_id, payout_id)

    def trace_order(self, tenant_id: str, order_id: str) -> trace.OrderTrace:
        """Everything one order touched, from its items to the channel, with a timeline."""
        return trace.trace_order(self.context, tenant_id, order_id)

    def balance(self, tenant_id: str, account_id: str) -> queries.Balance:
        """An account's pending and available balances."""
        return queries.balance(self.context, tenant_id, account_id)

    # order intake (R-ING-6..8)
    def collect(
        self,
        source: OrderSource,
        mapping: FieldMapping,
        as_of: datetime,
        *,
        flow: StatusFlow | None = None,
        plan: WindowPlan | None = None,
        start: datetime | None = None,
    ) -> collect.CollectReport:
        """Pull a source's complete windows up to `as_of` into items (keys: source, order, rule)."""
        return collect.collect(
            self.context, source, mapping, as_of, flow=flow, plan=plan, start=start
        )

    def open_order_receivable_account(self, tenant_id: str, shop_id: str) -> Account:
        """A partner's held receivable account, opened beside its account on first use."""
        return order_receivables.open_order_receivable_account(self.context, tenant_id, shop_id)

    def check_order_receivable_cover(
        self,
        tenant_id: str,
        shop_ids: Sequence[str],
        period_from: datetime | None = None,
        period_to: datetime | None = None,
    ) -> list[order_receivables.OrderCoverFinding]:
        """Cycles where a partner's receivable is below what we settle with it."""
        return order_receivables.check_order_receivable_cover(
            self.context, tenant_id, shop_ids, period_from, period_to
        )

    def open_run(self, cmd: OpenRun) -> Run:
        """Register a calculation run (idempotent by tenant + run id)."""
        return runs.open_run(self.context, cmd)

    def approve_run(self, tenant_id: str, run_id: str, approved_by: str) -> Run:
        """Finance approves a run: its items may reach payouts (idempotent)."""
        return runs.approve_run(self.context, tenant_id, run_id, approved_by)

    def get_run(self, tenant_id: str, run_id: str) -> Run:
        """A run by the host's run id."""
        return runs.get_run(self.context, tenant_id, run_id)

    def revoke_run(
        self,
        tenant_id: str,
        run_id: str,
        revoked_by: str,
        batch_size: int | None = None,
        max_batches: int | None = None,
    ) -> runs.RevocationReport:
        """Reverse a run's unpaid items in bounded, resumable batches (idempotent by run id)."""
        return runs.revoke_run(self.context, tenant_id, run_id, revoked_by, batch_size, max_batches)
