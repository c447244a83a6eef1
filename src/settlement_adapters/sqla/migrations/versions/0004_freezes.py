"""Balance freezes (try / confirm / cancel) and non-order charges awaiting approval.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from settlement_adapters.sqla.types import UtcDateTime

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the freezes and charges tables and their indexes."""
    op.create_table(
        "settlement_freezes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_freezes")),
        sa.UniqueConstraint("tenant_id", "reference", name="uq_settlement_freezes_reference"),
    )
    op.create_index("ix_settlement_freezes_expiry", "settlement_freezes", ["status", "expires_at"])
    op.create_table(
        "settlement_charges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("proposed_by", sa.String(length=128), nullable=False),
        sa.Column("proposed_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_charges")),
        sa.UniqueConstraint("tenant_id", "reference", name="uq_settlement_charges_reference"),
    )
    op.create_index(
        "ix_settlement_charges_status", "settlement_charges", ["tenant_id", "status", "id"]
    )


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_index("ix_settlement_charges_status", table_name="settlement_charges")
    op.drop_table("settlement_charges")
    op.drop_index("ix_settlement_freezes_expiry", table_name="settlement_freezes")
    op.drop_table("settlement_freezes")
