"""The schema: one table per aggregate, the journal, cached balances and the outbox.

Amounts are BIGINT minor units beside a CHAR(3) currency. Unique constraints
carry the idempotency guarantees; every aggregate table has a `version` column
for optimistic concurrency.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)

from settlement_adapters.sqla.rule_column import RuleSnapshot
from settlement_adapters.sqla.types import JsonText, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = 36  # a UUID in text form
EXTERNAL = 128  # the longest identifier a host may send


# The due index's condition: a statement leaves it at the close, so the payout job's
# status change writes no entry of it (MariaDB has no partial index: all rows).
OPEN_ONLY = "status = 'open'"
RELEASED_ONLY = "release_id IS NOT NULL"


def _id(name: str = "id", **kw: object) -> Column[str]:
    return Column(name, String(ID), **kw)  # type: ignore[arg-type]


accounts = Table(
    "settlement_accounts",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("shop_id", String(EXTERNAL), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("rule_override", String(64)),
    Column("payout_method_ref", String(EXTERNAL)),
    Column("payout_channel", String(EXTERNAL), nullable=False, server_default="default"),
    Column("settlement_mode", String(8), nullable=False, server_default="net"),
    Column("attributes", JsonText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "shop_id", name="uq_settlement_accounts_shop"),
)

billing_items = Table(
    "settlement_billing_items",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("item_key", String(EXTERNAL), nullable=False),
    _id("account_id", nullable=False),
    Column("order_id", String(EXTERNAL), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    _id("statement_id", nullable=False),
    Column("request_hash", CHAR(64), nullable=False),
    Column("basis", String(16), nullable=False),
    Column("order_total_minor", BigInteger),
    Column("run_id", String(EXTERNAL)),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "item_key", name="uq_settlement_billing_items_key"),
    # The amount lets a recount read the index alone (0011).
    Index("ix_settlement_billing_items_statement", "statement_id", "status", "amount_minor"),
    Index("ix_settlement_billing_items_order", "account_id", "order_id", "currency"),
    Index("ix_settlement_billing_items_tenant_order", "tenant_id", "order_id"),
    Index("ix_settlement_billing_items_tenant_recorded", "tenant_id", "recorded_at"),
    Index("ix_settlement_billing_items_tenant_occurred", "tenant_id", "occurred_at"),
    Index("ix_settlement_billing_items_tenant_status", "tenant_id", "status", "id"),
)

statements = Table(
    "settlement_statements",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    _id("account_id", nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("rule", RuleSnapshot, nullable=False),
    Column("payout_date", Date, nullable=False),
    Column("payable_at", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_at", UtcDateTime),
    Column("recount_minor", BigInteger),
    Column("brought_forward_minor", BigInteger),
    Column("carried_forward_minor", BigInteger),
    _id("payout_id"),
    Column("version", Integer, nullable=False),
    UniqueConstraint(
        "account_id", "currency", "period_start", name="uq_settlement_statements_period"
    ),
    # close_cycles and create_payouts walk these two in order, a batch at a time (0008).
    # The due one holds open statements only where partial indexes exist (0010).
    Index(
        "ix_settlement_statements_due",
        "status",
        "period_end",
        "id",
        sqlite_where=text(OPEN_ONLY),
        postgresql_where=text(OPEN_ONLY),
    ),
    Index("ix_settlement_statements_payable", "status", "account_id", "payable_at"),
    Index("ix_settlement_statements_account", "account_id", "status"),
    # No (tenant, status) index: every close and payout moved two entries of it (0009).
)

payouts = Table(
    "settlement_payouts",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    _id("account_id", nullable=False),
    Column("payout_key", String(EXTERNAL), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("sources", JsonText, nullable=False),
    Column("statement_ids", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    _id("transaction_id", nullable=False),
    Column("method_ref", String(EXTERNAL)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("approved_by", String(EXTERNAL)),
    Column("kind", String(16), nullable=False, server_default="scheduled"),
    Column("channel", String(EXTERNAL), nullable=False, server_default="default"),
    _id("release_id"),
    Column("funded", Boolean, nullable=False, server_default=false()),
    Column("submitted_at", UtcDateTime),
    Column("next_attempt_at", UtcDateTime),
    Column("failure_code", String(EXTERNAL)),
    Column("replaces", JsonText),
    _id("replaced_by"),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "payout_key", name="uq_settlement_payouts_key"),
    Index("ix_settlement_payouts_account", "tenant_id", "account_id"),
    Index("ix_settlement_payouts_status", "tenant_id", "status", "created_at"),
    # The dispatch jobs (release, poll, retry) scan by state across tenants.
    Index("ix_settlement_payouts_dispatch", "status", "id"),
    # Payouts in a release only, where partial indexes exist (0012): without its NULLs
    # it cannot tempt a planner into reading and sorting every unreleased payout.
    Index(
        "ix_settlement_payouts_release",
        "release_id",
        sqlite_where=text(RELEASED_ONLY),
        postgresql_where=text(RELEASED_ONLY),
    ),
)

release_summaries = Table(
    "settlement_release_summaries",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("channel", String(EXTERNAL), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("payout_ids", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_settlement_release_summaries_lane", "tenant_id", "status", "channel", "currency"),
)

fundings = Table(
    "settlement_fundings",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("channel", String(EXTERNAL), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reference", String(EXTERNAL), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "reference", name="uq_settlement_fundings_reference"),
)

discrepancies = Table(
    "settlement_discrepancies",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("finding_key", String(80), nullable=False),
    Column("subjects", JsonText, nullable=False),
    Column("found_at", UtcDateTime, nullable=False),
    Column("detail", String(1000), nullable=False),
    Column("currency", CHAR(3)),
    Column("expected_minor", BigInteger),
    Column("actual_minor", BigInteger),
    Column("status", String(16), nullable=False),
    Column("resolution", String(1000)),
    Column("resolved_by", String(EXTERNAL)),
    Column("resolved_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "finding_key", name="uq_settlement_discrepancies_key"),
    Index("ix_settlement_discrepancies_status", "tenant_id", "status", "id"),
)

channel_events = Table(
    "settlement_channel_events",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("channel", String(EXTERNAL), nullable=False),
    _id("payout_id", nullable=False),
    Column("idempotency_key", String(EXTERNAL), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("applied", Boolean, nullable=False),
    Column("code", String(EXTERNAL)),
    Column("message", String(500), nullable=False),
    Column("nonce", String(EXTERNAL)),
    # NULL nonces (answers to our own requests) are distinct on every backend.
    UniqueConstraint("channel", "nonce", name="uq_settlement_channel_events_nonce"),
    Index("ix_settlement_channel_events_payout", "payout_id", "id"),
)

journal_transactions = Table(
    "settlement_journal_transactions",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("reference", String(EXTERNAL), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    _id("reverses"),
    UniqueConstraint("kind", "reference", name="uq_settlement_journal_transactions_ref"),
    Index("ix_settlement_journal_transactions_tenant", "tenant_id", "id"),
    # Tracing an order finds the postings of its items, statements and payouts.
    Index("ix_settlement_journal_transactions_reference", "tenant_id", "reference"),
)

journal_entries = Table(
    "settlement_journal_entries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    _id("transaction_id", nullable=False),
    Column("account", String(EXTERNAL + 32), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Index("ix_settlement_journal_entries_transaction", "transaction_id"),
    Index("ix_settlement_journal_entries_account", "account", "currency"),
)

freezes = Table(
    "settlement_freezes",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    _id("account_id", nullable=False),
    Column("reference", String(EXTERNAL), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "reference", name="uq_settlement_freezes_reference"),
    # The expiry job scans held freezes by expiry.
    Index("ix_settlement_freezes_expiry", "status", "expires_at"),
)

charges = Table(
    "settlement_charges",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    _id("account_id", nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference", String(EXTERNAL), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("proposed_by", String(EXTERNAL), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(EXTERNAL)),
    Column("decided_at", UtcDateTime),
    _id("item_id"),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "reference", name="uq_settlement_charges_reference"),
    Index("ix_settlement_charges_status", "tenant_id", "status", "id"),
)

collections = Table(
    "settlement_collections",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    _id("account_id", nullable=False),
    Column("collection_key", String(EXTERNAL), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("collected_minor", BigInteger, nullable=False),
    Column("offset_minor", BigInteger, nullable=False),
    Column("statement_ids", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(24), nullable=False),
    Column("closed_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    # A statement set is billed once, however many payout runs race for it.
    UniqueConstraint("tenant_id", "collection_key", name="uq_settlement_collections_key"),
    Index("ix_settlement_collections_account", "tenant_id", "account_id", "status", "id"),
)

fee_calculations = Table(
    "settlement_fee_calculations",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("order_id", String(EXTERNAL), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("request_hash", CHAR(64), nullable=False),
    Column("rule_id", String(EXTERNAL), nullable=False),
    Column("schedule", String(EXTERNAL), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    # The factor snapshot: exact decimal text by name, for audit and replay.
    Column("factors", JsonText, nullable=False),
    Column("provided", JsonText, nullable=False),
    Column("fees", JsonText, nullable=False),
    Column("lines", JsonText, nullable=False),
    Column("item_ids", JsonText, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("calculated_at", UtcDateTime, nullable=False),
    Column("run_id", String(EXTERNAL)),
    Column("version", Integer, nullable=False),
    UniqueConstraint(
        "tenant_id", "order_id", "sequence", name="uq_settlement_fee_calculations_event"
    ),
)

checkpoints = Table(
    "settlement_checkpoints",
    metadata,
    Column("tenant_id", String(EXTERNAL), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(EXTERNAL), nullable=False),
)

journal_seals = Table(
    "settlement_journal_seals",
    metadata,
    _id("transaction_id", primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("prev_hash", CHAR(64), nullable=False),
    Column("hash", CHAR(64), nullable=False),
    # Two sealers extending one chain collide here; the loser seals again.
    UniqueConstraint("tenant_id", "seq", name="uq_settlement_journal_seals_seq"),
)

ledger_balances = Table(
    "settlement_ledger_balances",
    metadata,
    Column("account", String(EXTERNAL + 32), primary_key=True),
    Column("currency", CHAR(3), primary_key=True),
    Column("balance_minor", BigInteger, nullable=False),
)

outbox = Table(
    "settlement_outbox",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("name", String(64), nullable=False),
    Column("payload", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent", Boolean, nullable=False),
    Index("ix_settlement_outbox_pending", "sent", "id"),
)

runs = Table(
    "settlement_runs",
    metadata,
    _id(primary_key=True),
    Column("tenant_id", String(EXTERNAL), nullable=False),
    Column("run_id", String(EXTERNAL), nullable=False),
    Column("needs_approval", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(24), nullable=False),
    Column("approved_by", String(EXTERNAL)),
    Column("approved_at", UtcDateTime),
    Column("revoked_by", String(EXTERNAL)),
    _id("revoke_cursor"),
    Column("reversed_count", BigInteger, nullable=False),
    Column("hold_until", UtcDateTime),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "run_id", name="uq_settlement_runs_run_id"),
)

# A run's items are read in id order in bounded batches (revocation) and joined by
# statement (the payout gate): one index range per batch, never a table scan.
Index(
    "ix_settlement_billing_items_run",
    billing_items.c.tenant_id,
    billing_items.c.run_id,
    billing_items.c.id,
)

# MySQL and MariaDB compare text case- and accent-insensitively by default, so
# tenant "ACME" would read tenant "acme"'s rows and the unique keys would fold
# "K1" into "k1". Ids are compared byte for byte there, as on every other backend.
MYSQL_COLLATION = "utf8mb4_bin"
for _table in metadata.tables.values():
    _table.dialect_kwargs["mysql_charset"] = "utf8mb4"
    _table.dialect_kwargs["mysql_collate"] = MYSQL_COLLATION

# The units of work key their identity maps by (table name, id), with the name as a
# plain str. SQLAlchemy's quoted_name is an object the garbage collector tracks, and a
# tuple holding one is never untracked: each row a batch read or wrote kept a tracked
# key alive until the commit, for every collection meanwhile to walk again.
TRACKING_NAME: dict[Table, str] = {t: str(t.name) for t in metadata.tables.values()}
