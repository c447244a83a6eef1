"""Calculation runs (approval gate and revocation) and the index that reads a run's items.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from settlement_adapters.sqla.types import UtcDateTime

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the runs table and the billing items' run index."""
    op.create_table(
        "settlement_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=True),
        sa.Column("revoke_cursor", sa.String(length=36), nullable=True),
        sa.Column("reversed_count", sa.BigInteger(), nullable=False),
        sa.Column("hold_until", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_runs")),
        sa.UniqueConstraint("tenant_id", "run_id", name="uq_settlement_runs_run_id"),
        # Created after 0006 converted the earlier tables: byte-for-byte on MySQL too.
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_index(
        "ix_settlement_billing_items_run",
        "settlement_billing_items",
        ["tenant_id", "run_id", "id"],
    )


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_index("ix_settlement_billing_items_run", table_name="settlement_billing_items")
    op.drop_table("settlement_runs")
