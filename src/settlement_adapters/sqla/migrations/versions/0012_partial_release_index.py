"""The payouts' release index holds payouts in a release only, on SQLite and PostgreSQL.

prepare_release reads the payouts in no release yet (`release_id IS NULL`) in
id order, through the dispatch index (status, id). The release index held the
NULLs too, so a planner that believed them few read all of them through it and
sorted them for each batch of 500. That happens on PostgreSQL when the payouts
table was last analyzed before the first payouts were made (a new install's
first month, or any first run ahead of autovacuum): at 100k payouts each batch
sorted up to 100k rows on disk, and prepare_release took 20.7 s instead of
about 2 s. Without its NULLs the index cannot answer `release_id IS NULL` at
all; a lookup by one release (`release_id = ?`) still reads it, on both
engines. MariaDB has no partial indexes and keeps the full one, which its
planner does not choose for this scan.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_settlement_payouts_release"
TABLE = "settlement_payouts"
PARTIAL = ("sqlite", "postgresql")


def upgrade() -> None:
    """Rebuild the release index over released payouts only, where the engine allows it."""
    if op.get_bind().dialect.name not in PARTIAL:
        return
    op.drop_index(NAME, table_name=TABLE)
    released = sa.text("release_id IS NOT NULL")
    op.create_index(NAME, TABLE, ["release_id"], sqlite_where=released, postgresql_where=released)


def downgrade() -> None:
    """Restore the full index of 0002."""
    if op.get_bind().dialect.name not in PARTIAL:
        return
    op.drop_index(NAME, table_name=TABLE)
    op.create_index(NAME, TABLE, ["release_id"])
