"""Reconciliation and tracing: discrepancies, job checkpoints, journal seals, postings by reference.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from settlement_adapters.sqla.types import JsonText, UtcDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the discrepancies table and the indexes reconciliation and tracing use."""
    op.create_table(
        "settlement_discrepancies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("finding_key", sa.String(length=80), nullable=False),
        sa.Column("subjects", JsonText(), nullable=False),
        sa.Column("found_at", UtcDateTime(), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("actual_minor", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=1000), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_discrepancies")),
        sa.UniqueConstraint("tenant_id", "finding_key", name="uq_settlement_discrepancies_key"),
    )
    op.create_index(
        "ix_settlement_discrepancies_status",
        "settlement_discrepancies",
        ["tenant_id", "status", "id"],
    )
    op.create_table(
        "settlement_checkpoints",
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_settlement_checkpoints")),
    )
    op.create_table(
        "settlement_journal_seals",
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("hash", sa.CHAR(length=64), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_settlement_journal_seals")),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_settlement_journal_seals_seq"),
    )
    op.create_index(
        "ix_settlement_journal_transactions_reference",
        "settlement_journal_transactions",
        ["tenant_id", "reference"],
    )


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_table("settlement_journal_seals")
    op.drop_table("settlement_checkpoints")
    op.drop_index(
        "ix_settlement_journal_transactions_reference",
        table_name="settlement_journal_transactions",
    )
    op.drop_index("ix_settlement_discrepancies_status", table_name="settlement_discrepancies")
    op.drop_table("settlement_discrepancies")
