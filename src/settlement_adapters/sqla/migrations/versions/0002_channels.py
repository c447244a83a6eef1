"""Payment channels: routing, dispatch state on payouts, and the channel answers table.

Revision ID: 0002
Revises: 0001

New NOT NULL columns carry server defaults so existing rows stay valid: accounts
and payouts route to the `default` channel, existing payouts are scheduled and
unfunded.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from settlement_adapters.sqla.types import JsonText, UtcDateTime

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYOUT_COLUMNS = [
    sa.Column("kind", sa.String(length=16), nullable=False, server_default="scheduled"),
    sa.Column("channel", sa.String(length=128), nullable=False, server_default="default"),
    sa.Column("release_id", sa.String(length=36), nullable=True),
    sa.Column("funded", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("submitted_at", UtcDateTime(), nullable=True),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("failure_code", sa.String(length=128), nullable=True),
    sa.Column("replaces", JsonText(), nullable=True),
    sa.Column("replaced_by", sa.String(length=36), nullable=True),
]


def upgrade() -> None:
    """Add channel routing and dispatch columns, their indexes, and channel answers."""
    op.add_column(
        "settlement_accounts",
        sa.Column(
            "payout_channel", sa.String(length=128), nullable=False, server_default="default"
        ),
    )
    for column in PAYOUT_COLUMNS:
        op.add_column("settlement_payouts", column)
    op.create_index("ix_settlement_payouts_dispatch", "settlement_payouts", ["status", "id"])
    op.create_index("ix_settlement_payouts_release", "settlement_payouts", ["release_id"])
    op.create_index(
        "ix_settlement_release_summaries_lane",
        "settlement_release_summaries",
        ["tenant_id", "status", "channel", "currency"],
    )
    op.create_table(
        "settlement_channel_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("payout_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_channel_events")),
        sa.UniqueConstraint("channel", "nonce", name="uq_settlement_channel_events_nonce"),
    )
    op.create_index(
        "ix_settlement_channel_events_payout",
        "settlement_channel_events",
        ["payout_id", "id"],
    )


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_index("ix_settlement_channel_events_payout", table_name="settlement_channel_events")
    op.drop_table("settlement_channel_events")
    op.drop_index("ix_settlement_release_summaries_lane", table_name="settlement_release_summaries")
    op.drop_index("ix_settlement_payouts_release", table_name="settlement_payouts")
    op.drop_index("ix_settlement_payouts_dispatch", table_name="settlement_payouts")
    for column in reversed(PAYOUT_COLUMNS):
        op.drop_column("settlement_payouts", column.name)
    op.drop_column("settlement_accounts", "payout_channel")
