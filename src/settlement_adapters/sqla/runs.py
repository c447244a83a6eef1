"""SQL calculation runs, and the run-wide item reads revocation and the payout gate need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from settlement_adapters.sqla import mapping, tables
from settlement_adapters.sqla.repositories import ITEM_READ, _Repository, _status_in
from settlement_core.lifecycle import GATED_RUNS, RunStatus, StatementStatus
from settlement_core.model import BillingItem, Run

# Statement ids per IN list: well under every backend's bound-parameter limit.
CHUNK = 500


def run_row(r: Run) -> dict[str, Any]:
    """Columns of a run."""
    return {
        "id": r.id,
        "tenant_id": r.tenant_id,
        "run_id": r.run_id,
        "needs_approval": r.needs_approval,
        "created_at": r.created_at,
        "status": r.status.value,
        "approved_by": r.approved_by,
        "approved_at": r.approved_at,
        "revoked_by": r.revoked_by,
        "revoke_cursor": r.revoke_cursor,
        "reversed_count": r.reversed_count,
        "hold_until": r.hold_until,
        "version": r.version,
    }


def run_from(r: Mapping[str, Any]) -> Run:
    """A run from its row."""
    return Run(
        id=r["id"],
        tenant_id=r["tenant_id"],
        run_id=r["run_id"],
        needs_approval=bool(r["needs_approval"]),
        created_at=r["created_at"],
        status=RunStatus(r["status"]),
        approved_by=r["approved_by"],
        approved_at=r["approved_at"],
        revoked_by=r["revoked_by"],
        revoke_cursor=r["revoke_cursor"],
        reversed_count=int(r["reversed_count"]),
        hold_until=r["hold_until"],
        version=r["version"],
    )


class SqlRunRepository(_Repository):
    """Runs; (tenant, run id) is unique."""

    table = tables.runs
    build = staticmethod(run_from)

    def __init__(self, uow: Any) -> None:
        super().__init__(uow)
        # Ingest asks once per item that names a run: answer from what this transaction
        # already read (found or not). `tracked` is replaced when a transaction ends.
        self._seen: dict[tuple[str, str], Run | None] = {}
        self._seen_in: object = None

    def _cache(self) -> dict[tuple[str, str], Run | None]:
        if self._seen_in is not self.uow.tracked:
            self._seen = {}
            self._seen_in = self.uow.tracked
        return self._seen

    def add(self, run: Run) -> None:
        """Stage a new run."""
        super().add(run)
        self._cache()[(run.tenant_id, run.run_id)] = run

    def find(self, tenant_id: str, run_id: str) -> Run | None:
        """The run registered under a host's run id, if any."""
        cache = self._cache()
        key = (tenant_id, run_id)
        if key not in cache:
            cache[key] = self._one(tenant_id=tenant_id, run_id=run_id)
        return cache[key]

    def items(
        self, tenant_id: str, run_id: str, after: str | None, limit: int
    ) -> list[tuple[BillingItem, str]]:
        """Up to `limit` of a run's items in id order after a cursor, each with its shop id."""
        self.uow.flush()
        i, a = tables.billing_items.c, tables.accounts.c
        where = [i.tenant_id == tenant_id, i.run_id == run_id]
        if after is not None:
            where.append(i.id > after)
        stmt = (
            ITEM_READ.add_columns(a.shop_id.label("account_shop_id"))
            .join(tables.accounts, a.id == i.account_id)
            .where(*where)
            .order_by(i.id)
            .limit(limit)
        )
        # Read, never changed: built without tracking, so commit has nothing to diff.
        return [
            (mapping.item_from(row._mapping), row.account_shop_id) for row in self.uow.execute(stmt)
        ]

    def paid_out_items(self, tenant_id: str, run_id: str) -> int:
        """How many of a run's items sit on statements already paid out."""
        self.uow.flush()
        i, s = tables.billing_items.c, tables.statements.c
        stmt = (
            select(func.count())
            .select_from(tables.billing_items.join(tables.statements, s.id == i.statement_id))
            .where(
                i.tenant_id == tenant_id,
                i.run_id == run_id,
                _status_in(s.status, [StatementStatus.PAID_OUT]),
            )
        )
        return int(self.uow.execute(stmt).scalar_one())

    def paid_out(self, statement_ids: Sequence[str]) -> set[str]:
        """Those of these statements already paid out (one query per chunk of ids)."""
        self.uow.flush()
        s = tables.statements.c
        found: set[str] = set()
        ids = list(statement_ids)
        for start in range(0, len(ids), CHUNK):
            stmt = select(s.id).where(
                s.id.in_(ids[start : start + CHUNK]),
                _status_in(s.status, [StatementStatus.PAID_OUT]),
            )
            found.update(self.uow.execute(stmt).scalars())
        return found

    def gated_statements(self, statement_ids: Sequence[str], as_of: datetime) -> set[str]:
        """Those of these statements holding items of a run that keeps them out of payouts."""
        if not statement_ids:
            return set()
        self.uow.flush()
        r = self.table.c
        gating = or_(
            r.status.in_([s.value for s in GATED_RUNS]),
            and_(r.status == RunStatus.REVOKED.value, r.hold_until > as_of),
        )
        # Gating runs are few (usually none): find them first, so a payout batch with
        # none costs one small query instead of a scan of its statements' items.
        runs = [
            (row.tenant_id, row.run_id)
            for row in self.uow.execute(select(r.tenant_id, r.run_id).where(gating))
        ]
        if not runs:
            return set()
        i = tables.billing_items.c
        found: set[str] = set()
        ids = list(statement_ids)
        for tenant_id, run_id in runs:
            for start in range(0, len(ids), CHUNK):
                stmt = (
                    select(i.statement_id)
                    .distinct()
                    .where(
                        i.tenant_id == tenant_id,
                        i.run_id == run_id,
                        i.statement_id.in_(ids[start : start + CHUNK]),
                    )
                )
                found.update(self.uow.execute(stmt).scalars())
        return found
