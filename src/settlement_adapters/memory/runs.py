"""In-memory calculation runs and the run-wide item reads revocation and the payout gate need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
        items: dict[str, BillingItem] = {
            i.id: i
            for i in self.uow.db.items.values()
            if i.run_id == run_id and i.tenant_id == tenant_id
        }
        for item in self.uow.staged["items"].values():
            if item.run_id == run_id and item.tenant_id == tenant_id:
                items[item.id] = item
        return sorted(items.values(), key=lambda i: i.id)

    def items(
        self, tenant_id: str, run_id: str, after: str | None, limit: int
    ) -> list[BillingItem]:
        """Up to `limit` of a run's items in id order after a cursor."""
        return [i for i in self._items_of(tenant_id, run_id) if after is None or i.id > after][
            :limit
        ]

    def paid_out_items(self, tenant_id: str, run_id: str) -> int:
        """How many of a run's items sit on statements already paid out."""
        statements = self.uow.statements
        return sum(
            1
            for i in self._items_of(tenant_id, run_id)
            if statements.get(tenant_id, i.statement_id).status is StatementStatus.PAID_OUT
        )

    def gated_statements(self, statement_ids: Sequence[str], as_of: datetime) -> set[str]:
        """Those of these statements holding items of a run that keeps them out of payouts."""
        db = self.uow.db
        gated: set[str] = set()
        runs: dict[tuple[str, str], bool] = {}
        for statement_id in statement_ids:
            ids = [*db.items_by_statement.get(statement_id, ())]
            ids.extend(i.id for i in self.uow.new_items_by_statement.get(statement_id, ()))
            for item_id in ids:
                item = self.uow.staged["items"].get(item_id) or db.items[item_id]
                if item.run_id is None:
                    continue
                key = (item.tenant_id, item.run_id)
                if key not in runs:
                    run = self.find(*key)
                    runs[key] = run is not None and run.gates_at(as_of)
                if runs[key]:
                    gated.add(statement_id)
                    break
        return gated
