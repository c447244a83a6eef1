"""MySQL/MariaDB: every table compares text byte for byte (utf8mb4_bin).

The server default collation is case-insensitive: a tenant id differing only
in case read another tenant's rows, and unique keys differing only in case
collided. Other backends compare bytes already; nothing changes there.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "settlement_accounts",
    "settlement_billing_items",
    "settlement_statements",
    "settlement_payouts",
    "settlement_release_summaries",
    "settlement_fundings",
    "settlement_discrepancies",
    "settlement_channel_events",
    "settlement_journal_transactions",
    "settlement_journal_entries",
    "settlement_freezes",
    "settlement_charges",
    "settlement_checkpoints",
    "settlement_journal_seals",
    "settlement_ledger_balances",
    "settlement_outbox",
)


def _convert(collation: str) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for name in TABLES:
        op.execute(f"ALTER TABLE {name} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")


def upgrade() -> None:
    """Convert every table to utf8mb4_bin on MySQL/MariaDB."""
    _convert("utf8mb4_bin")


def downgrade() -> None:
    """Back to the case-insensitive utf8mb4_general_ci."""
    _convert("utf8mb4_general_ci")
