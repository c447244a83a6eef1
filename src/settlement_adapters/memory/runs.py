"""In-memory calculation runs and the run-wide item reads revocation and the payout gate need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from settlement_adapters.memory.database import ITEM_RUN, ITEM_TENANT
from settlement_adapters.memory.repositories import _Repository
from settlement_core.lifecycle import StatementStatus
from settlement_core.model import BillingItem, Run


class MemoryRunRepository(_Repository):
    """Runs by id and by (tenant, run id)."""

    table = "runs"

    def add(self, run: Run) -> None:
        """Stage a new run."""
        self.uow.stage_new(self.table, run)

    def find(self, tenant_id: str, run_id: str) -> Run | None:
        """The run registered under a host's run id, if any."""
        found: Run | None = self._unique(self.uow.db.run_by_key, "run_id", tenant_id, run_id)
        return found

    def _items_of(self, tenant_id: str, run_id: str) -> list[BillingItem]:
        # Indexed by run: scanning every item made each revocation batch cost the whole store.
        db = self.uow.db
        staged = self.uow.staged["items"]
        items: dict[str, BillingItem] = {}
        for item_id in db.items_by_run.get((tenant_id, run_id), ()):
            found = self.uow.item_view(item_id)
            if found is not None:
                items[item_id] = found
        for item in staged.values():
            if item.run_id == run_id and item.tenant_id == tenant_id:
                items[item.id] = item
        return sorted(items.values(), key=lambda i: i.id)

    def items(
        self, tenant_id: str, run_id: str, after: str | None, limit: int
    ) -> list[tuple[BillingItem, str]]:
        """Up to `limit` of a run's items in id order after a cursor, each with its shop id."""
        chosen = [i for i in self._items_of(tenant_id, run_id) if after is None or i.id > after]
        accounts = self.uow.accounts
        return [(i, accounts.get(tenant_id, i.account_id).shop_id) for i in chosen[:limit]]

    def paid_out_items(self, tenant_id: str, run_id: str) -> int:
        """How many of a run's items sit on statements already paid out."""
        statements = self.uow.statements
        return sum(
            1
            for i in self._items_of(tenant_id, run_id)
            if statements.get(tenant_id, i.statement_id).status is StatementStatus.PAID_OUT
        )

    def paid_out(self, statement_ids: Sequence[str]) -> set[str]:
        """Those of these statements already paid out."""
        db = self.uow.db
        return {s for s in statement_ids if s in db.statements_by_status[StatementStatus.PAID_OUT]}

    def gated_statements(self, statement_ids: Sequence[str], as_of: datetime) -> set[str]:
        """Those of these statements holding items of a run that keeps them out of payouts."""
        runs = {(r.tenant_id, r.run_id) for r in self._all() if r.gates_at(as_of)}
        if not runs:
            return set()
        db, uow = self.uow.db, self.uow
        gated: set[str] = set()
        for statement_id in statement_ids:
            rows = (db.items[i] for i in db.items_by_statement.get(statement_id, ()))
            found = [(row[ITEM_TENANT], row[ITEM_RUN]) for row in rows]
            found.extend((i.tenant_id, i.run_id) for i in uow.new_items_of(statement_id))
            if any(run_id is not None and (tenant, run_id) in runs for tenant, run_id in found):
                gated.add(statement_id)
        return gated
