"""Statement indexes the close and payout jobs walk in order, a batch at a time.

close_cycles takes the oldest due statements by (period_end, id) and
create_payouts the next accounts holding payable statements by account id.
The earlier indexes answered both only after sorting every candidate row, once
per batch: quadratic in the number of statements of a cycle. The payable index
changes its column order rather than gaining a sibling: every status change
writes each index holding the status, and nothing else ranges over payable_at
without an account or a tenant.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Order the due index by id too, and the payable index by account (same count of indexes)."""
    _replace("ix_settlement_statements_due", ["status", "period_end", "id"])
    _replace("ix_settlement_statements_payable", ["status", "account_id", "payable_at"])


def downgrade() -> None:
    """Restore the indexes of 0007."""
    _replace("ix_settlement_statements_due", ["status", "period_end"])
    _replace("ix_settlement_statements_payable", ["status", "payable_at", "account_id"])


def _replace(name: str, columns: list[str]) -> None:
    op.drop_index(name, table_name="settlement_statements")
    op.create_index(name, "settlement_statements", columns)
