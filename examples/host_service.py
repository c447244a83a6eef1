"""A host's web service in front of the library (FastAPI): billing items in, bank callbacks in.

Run: SETTLEMENT_CONFIG=examples/marketplace.toml uvicorn host_service:api --app-dir examples

- ``POST /billing-items``: the host's order service (or its clearing step) books
  one order's settlement line. Idempotent by (tenant, key): a replay answers
  200 with ``replayed: true``; other content under the same key is a 409.
- ``POST /channels/{name}/callbacks``: a payment channel's signed callback. The
  body is passed on byte for byte (the signature covers it); a bad signature, a
  stale timestamp or a replayed nonce is a 401 and changes nothing.
- ``GET /tenants/{tenant}/shops/{shop}/balance``: what a seller's dashboard shows.

Amounts travel as decimal strings ("12.30"), never JSON numbers, so no float
ever touches them. Errors map from `settlement_core.errors` to HTTP statuses.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

from settlement_adapters.clock import SystemClock
from settlement_adapters.config import load_config
from settlement_core import (
    AmountBasis,
    ItemKind,
    RecordBillingItem,
    Settlement,
    money,
)
from settlement_core.errors import (
    CallbackRejected,
    IdempotencyConflict,
    NotFound,
    SettlementError,
    ValidationError,
)
from settlement_core.money import amount_str

T = TypeVar("T")

# Most specific first: UnknownChannel is a NotFound, BadSignature a CallbackRejected.
STATUS: tuple[tuple[type[SettlementError], int], ...] = (
    (NotFound, 404),
    (IdempotencyConflict, 409),
    (CallbackRejected, 401),
    (ValidationError, 422),
)


class BillingItemIn(BaseModel):
    """One order's settlement line, as the host's order service sends it."""

    tenant_id: str
    shop_id: str
    key: str
    order_id: str
    kind: ItemKind
    amount: str  # a decimal string: "12.30"
    currency: str
    occurred_at: datetime
    basis: AmountBasis = AmountBasis.DELTA


class ReceiptOut(BaseModel):
    """What booking the item did."""

    item_id: str
    statement_id: str
    amount: str
    currency: str
    replayed: bool


def create_api(settlement: Settlement) -> FastAPI:
    """The web service over one Settlement (tests pass an in-memory one)."""
    api = FastAPI(title="settlement host example")

    @api.post("/billing-items")
    def record(item: BillingItemIn) -> ReceiptOut:
        """Book one billing item (idempotent by tenant + key)."""
        receipt = _call(
            lambda: settlement.record_billing_item(
                RecordBillingItem(
                    tenant_id=item.tenant_id,
                    shop_id=item.shop_id,
                    key=item.key,
                    order_id=item.order_id,
                    kind=item.kind,
                    amount=money(item.amount, item.currency),
                    occurred_at=item.occurred_at,
                    basis=item.basis,
                )
            )
        )
        return ReceiptOut(
            item_id=receipt.item_id,
            statement_id=receipt.statement_id,
            amount=amount_str(receipt.amount),
            currency=receipt.amount.currency.code,
            replayed=receipt.replayed,
        )

    @api.post("/channels/{channel}/callbacks")
    async def callback(channel: str, request: Request) -> dict[str, object]:
        """Verify and apply a channel's signed callback, once."""
        body = await request.body()
        headers = dict(request.headers)
        receipt = _call(lambda: settlement.handle_callback(channel, body, headers))
        return {
            "payout_id": receipt.payout_id,
            "outcome": receipt.outcome.value,
            "applied": receipt.applied,
        }

    @api.get("/tenants/{tenant}/shops/{shop}/balance")
    def balance(tenant: str, shop: str) -> dict[str, dict[str, str]]:
        """A seller's pending and available money per currency."""
        account = _call(lambda: settlement.find_account(tenant, shop))
        if account is None:
            raise HTTPException(404, f"no account for shop {shop!r}")
        found = _call(lambda: settlement.balance(tenant, account.id))
        return {
            "pending": {c: amount_str(m) for c, m in found.pending.items()},
            "available": {c: amount_str(m) for c, m in found.available.items()},
        }

    return api


def _call(work: Callable[[], T]) -> T:
    """Run a library call; its typed errors become HTTP errors with their message."""
    try:
        return work()
    except SettlementError as exc:
        for kind, status in STATUS:
            if isinstance(exc, kind):
                raise HTTPException(status, str(exc)) from exc
        raise HTTPException(400, str(exc)) from exc


def _from_environment() -> Settlement:
    """The Settlement for `uvicorn host_service:api`: $SETTLEMENT_CONFIG names the TOML file."""
    config = load_config(Path(os.environ.get("SETTLEMENT_CONFIG", "settlement.toml")))
    url = os.environ.get("SETTLEMENT_DATABASE_URL") or config.database or "memory://"
    return config.settlement(url, SystemClock())


def __getattr__(name: str) -> FastAPI:
    # Built on first use, so importing this module (tests, docs) needs no configuration.
    if name == "api":
        return create_api(_from_environment())
    raise AttributeError(name)
