"""Statement indexes the close and payout jobs walk in order, a batch at a time.

close_cycles takes the oldest due statements by (period_end, id) and
create_payouts the next accounts holding payable statements by account id.
The earlier indexes answered both only after sorting every candidate row, once
per batch: quadratic in the number of statements of a cycle.

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
    """Order the due index by id too, and index payable statements by account."""
    op.drop_index("ix_settlement_statements_due", table_name="settlement_statements")
    op.create_index(
        "ix_settlement_statements_due",
        "settlement_statements",
        ["status", "period_end", "id"],
    )
    op.create_index(
        "ix_settlement_statements_payable_account",
        "settlement_statements",
        ["status", "account_id", "payable_at"],
    )


def downgrade() -> None:
    """Restore the indexes of 0007."""
    op.drop_index("ix_settlement_statements_payable_account", table_name="settlement_statements")
    op.drop_index("ix_settlement_statements_due", table_name="settlement_statements")
    op.create_index(
        "ix_settlement_statements_due",
        "settlement_statements",
        ["status", "period_end"],
    )
