"""Gross settlement (accounts' settlement mode, collections) and stored fee calculations.

Revision ID: 0005
Revises: 0004

The new NOT NULL column carries a server default, so existing accounts keep
netting as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from settlement_adapters.sqla.types import JsonText, UtcDateTime

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add accounts' settlement mode, the collections and the fee calculations tables."""
    op.add_column(
        "settlement_accounts",
        sa.Column("settlement_mode", sa.String(length=8), nullable=False, server_default="net"),
    )
    op.create_table(
        "settlement_collections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("collection_key", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("collected_minor", sa.BigInteger(), nullable=False),
        sa.Column("offset_minor", sa.BigInteger(), nullable=False),
        sa.Column("statement_ids", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_collections")),
        sa.UniqueConstraint("tenant_id", "collection_key", name="uq_settlement_collections_key"),
    )
    op.create_index(
        "ix_settlement_collections_account",
        "settlement_collections",
        ["tenant_id", "account_id", "status", "id"],
    )
    op.create_table(
        "settlement_fee_calculations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("request_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("schedule", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("factors", JsonText(), nullable=False),
        sa.Column("provided", JsonText(), nullable=False),
        sa.Column("fees", JsonText(), nullable=False),
        sa.Column("lines", JsonText(), nullable=False),
        sa.Column("item_ids", JsonText(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("calculated_at", UtcDateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_fee_calculations")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", "sequence", name="uq_settlement_fee_calculations_event"
        ),
    )


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_table("settlement_fee_calculations")
    op.drop_index("ix_settlement_collections_account", table_name="settlement_collections")
    op.drop_table("settlement_collections")
    op.drop_column("settlement_accounts", "settlement_mode")
