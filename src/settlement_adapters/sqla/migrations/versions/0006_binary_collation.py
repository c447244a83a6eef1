"""MySQL/MariaDB: every table compares text byte for byte (utf8mb4_bin).

The server default collation is case-insensitive: a tenant id differing only
in case read another tenant's rows, and unique keys differing only in case
collided. Other backends compare bytes already; nothing changes there.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The tables of the earlier revisions, for an offline (--sql) script.
EARLIER_TABLES = (
    "accounts",
    "billing_items",
    "channel_events",
    "charges",
    "checkpoints",
    "collections",
    "discrepancies",
    "fee_calculations",
    "freezes",
    "fundings",
    "journal_entries",
    "journal_seals",
    "journal_transactions",
    "ledger_balances",
    "outbox",
    "payouts",
    "release_summaries",
    "statements",
)


def _convert(collation: str) -> None:
    if op.get_context().dialect.name not in ("mysql", "mariadb"):
        return
    if op.get_context().as_sql:
        names: list[str] = [f"settlement_{name}" for name in EARLIER_TABLES]
    else:
        # Every settlement table there is now, whichever revisions created them; the
        # migrations run with the target schema as the session's database.
        query = sa.text(
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'settlement%'"
        )
        names = list(op.get_bind().execute(query).scalars())
    for name in sorted(names):
        op.execute(f"ALTER TABLE {name} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")


def upgrade() -> None:
    """Convert every table to utf8mb4_bin on MySQL/MariaDB."""
    _convert("utf8mb4_bin")


def downgrade() -> None:
    """Back to the case-insensitive utf8mb4_general_ci."""
    _convert("utf8mb4_general_ci")
