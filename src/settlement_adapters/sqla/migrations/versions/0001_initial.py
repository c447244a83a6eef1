"""The initial schema: every table, key, unique constraint and index in `tables.py`.

Revision ID: 0001
Revises: (none)

The column types are the adapter's own (`UtcDateTime`, `JsonText`), imported here;
they only depend on the dialect, never on settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from settlement_adapters.sqla.types import JsonText, UtcDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table with its keys, unique constraints and indexes."""
    op.create_table(
        "settlement_accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("shop_id", sa.String(length=128), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_override", sa.String(length=64), nullable=True),
        sa.Column("payout_method_ref", sa.String(length=128), nullable=True),
        sa.Column("attributes", JsonText(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_accounts")),
        sa.UniqueConstraint("tenant_id", "shop_id", name="uq_settlement_accounts_shop"),
    )
    op.create_table(
        "settlement_billing_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("item_key", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("request_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("order_total_minor", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_billing_items")),
        sa.UniqueConstraint("tenant_id", "item_key", name="uq_settlement_billing_items_key"),
    )
    op.create_index(
        "ix_settlement_billing_items_statement",
        "settlement_billing_items",
        ["statement_id", "status"],
    )
    op.create_index(
        "ix_settlement_billing_items_order",
        "settlement_billing_items",
        ["account_id", "order_id", "currency"],
    )
    op.create_index(
        "ix_settlement_billing_items_tenant_order",
        "settlement_billing_items",
        ["tenant_id", "order_id"],
    )
    op.create_index(
        "ix_settlement_billing_items_tenant_recorded",
        "settlement_billing_items",
        ["tenant_id", "recorded_at"],
    )
    op.create_index(
        "ix_settlement_billing_items_tenant_occurred",
        "settlement_billing_items",
        ["tenant_id", "occurred_at"],
    )
    op.create_index(
        "ix_settlement_billing_items_tenant_status",
        "settlement_billing_items",
        ["tenant_id", "status", "id"],
    )
    op.create_table(
        "settlement_statements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("period_end", UtcDateTime(), nullable=False),
        sa.Column("rule", JsonText(), nullable=False),
        sa.Column("payout_date", sa.Date(), nullable=False),
        sa.Column("payable_at", UtcDateTime(), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("recount_minor", sa.BigInteger(), nullable=True),
        sa.Column("brought_forward_minor", sa.BigInteger(), nullable=True),
        sa.Column("carried_forward_minor", sa.BigInteger(), nullable=True),
        sa.Column("payout_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statements")),
        sa.UniqueConstraint(
            "account_id", "currency", "period_start", name="uq_settlement_statements_period"
        ),
    )
    op.create_index(
        "ix_settlement_statements_due", "settlement_statements", ["status", "period_end"]
    )
    op.create_index(
        "ix_settlement_statements_payable",
        "settlement_statements",
        ["status", "payable_at", "account_id"],
    )
    op.create_index(
        "ix_settlement_statements_account", "settlement_statements", ["account_id", "status"]
    )
    op.create_index(
        "ix_settlement_statements_tenant",
        "settlement_statements",
        ["tenant_id", "status", "period_start"],
    )
    op.create_table(
        "settlement_payouts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("payout_key", sa.String(length=128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("sources", JsonText(), nullable=False),
        sa.Column("statement_ids", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("method_ref", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_payouts")),
        sa.UniqueConstraint("tenant_id", "payout_key", name="uq_settlement_payouts_key"),
    )
    op.create_index(
        "ix_settlement_payouts_account", "settlement_payouts", ["tenant_id", "account_id"]
    )
    op.create_index(
        "ix_settlement_payouts_status", "settlement_payouts", ["tenant_id", "status", "created_at"]
    )
    op.create_table(
        "settlement_release_summaries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("payout_ids", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_release_summaries")),
    )
    op.create_table(
        "settlement_fundings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_fundings")),
        sa.UniqueConstraint("tenant_id", "reference", name="uq_settlement_fundings_reference"),
    )
    op.create_table(
        "settlement_journal_transactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("reverses", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_journal_transactions")),
        sa.UniqueConstraint("kind", "reference", name="uq_settlement_journal_transactions_ref"),
    )
    op.create_index(
        "ix_settlement_journal_transactions_tenant",
        "settlement_journal_transactions",
        ["tenant_id", "id"],
    )
    op.create_table(
        "settlement_journal_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_journal_entries")),
    )
    op.create_index(
        "ix_settlement_journal_entries_transaction",
        "settlement_journal_entries",
        ["transaction_id"],
    )
    op.create_index(
        "ix_settlement_journal_entries_account",
        "settlement_journal_entries",
        ["account", "currency"],
    )
    op.create_table(
        "settlement_ledger_balances",
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "currency", name=op.f("pk_settlement_ledger_balances")),
    )
    op.create_table(
        "settlement_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("payload", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_outbox")),
    )
    op.create_index("ix_settlement_outbox_pending", "settlement_outbox", ["sent", "id"])


def downgrade() -> None:
    """Drop every table (their indexes go with them)."""
    op.drop_table("settlement_outbox")
    op.drop_table("settlement_ledger_balances")
    op.drop_table("settlement_journal_entries")
    op.drop_table("settlement_journal_transactions")
    op.drop_table("settlement_fundings")
    op.drop_table("settlement_release_summaries")
    op.drop_table("settlement_payouts")
    op.drop_table("settlement_statements")
    op.drop_table("settlement_billing_items")
    op.drop_table("settlement_accounts")
