"""A payment channel that keeps its records in a file, so separate CLI runs see one bank.

Named in a test's configuration as `factory = "cli_bank:FileBank"`. The first
attempt of every payout fails with a retryable code (so `settlement retry` has
work); later attempts are paid at once. `status` answers from the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from settlement_adapters.channels import SettlementReportRow
from settlement_core.errors import CallbackRejected
from settlement_core.ports import CallbackNotice, ChannelResult, Clock, Outcome, PayoutInstruction


class FileBank:
    """Every submission appended to a JSON-lines file; answers are read back from it."""

    def __init__(self, *, name: str, clock: Clock, records: str) -> None:
        self._name = name
        self._clock = clock
        self._records = Path(records)

    @property
    def name(self) -> str:
        """The channel's name in the configuration."""
        return self._name

    def submit(self, instruction: PayoutInstruction) -> ChannelResult:
        """First attempts fail (retryable), later ones are paid; a known key answers as before."""
        known = self._known().get(instruction.idempotency_key)
        if known is None:
            attempt = int(instruction.idempotency_key.rsplit(".", 1)[1])
            known = Outcome.FAILED if attempt == 1 else Outcome.PAID
            with self._records.open("a", encoding="utf-8") as out:
                row: dict[str, object] = {
                    "key": instruction.idempotency_key,
                    "outcome": known.value,
                    "amount_minor": instruction.amount_minor,
                    "currency": instruction.currency,
                    "at": self._clock.now().isoformat(),
                }
                out.write(json.dumps(row) + "\n")
        return self._result(instruction.idempotency_key, known)

    def status(self, idempotency_key: str) -> ChannelResult:
        """What the file says, or NOT_FOUND."""
        known = self._known().get(idempotency_key, Outcome.NOT_FOUND)
        return self._result(idempotency_key, known)

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackNotice:
        """This bank never calls back."""
        raise CallbackRejected("the file bank sends no callbacks")

    def _known(self) -> dict[str, Outcome]:
        return {row["key"]: Outcome(row["outcome"]) for row in self.rows()}

    def rows(self) -> list[dict[str, Any]]:
        """Every submission on file, oldest first."""
        if not self._records.exists():
            return []
        return [json.loads(line) for line in self._records.read_text().splitlines()]

    def report(self) -> list[SettlementReportRow]:
        """The bank's settlement report: one row per submission, settled when received."""
        return [
            SettlementReportRow(
                idempotency_key=row["key"],
                payout_id=row["key"].rsplit(".", 1)[0],
                amount_minor=row["amount_minor"],
                currency=row["currency"],
                status=Outcome(row["outcome"]),
                submitted_at=datetime.fromisoformat(row["at"]),
                settled_at=datetime.fromisoformat(row["at"]),
                provider_ref=f"file-{n}",
            )
            for n, row in enumerate(self.rows())
        ]

    @staticmethod
    def _result(key: str, outcome: Outcome) -> ChannelResult:
        failed = outcome is Outcome.FAILED
        return ChannelResult(
            idempotency_key=key,
            outcome=outcome,
            retryable=failed,
            code="bank_unavailable" if failed else None,
        )
