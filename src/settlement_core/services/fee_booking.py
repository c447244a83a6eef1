"""Pricing an order event with the fee engine and booking its lines, in one transaction.

The engine (settlement_core.fees) is pure: it prices an order and returns the
fees, the factor snapshot and the split. `settle_order` stores that result as a
FeeCalculation beside the billing items that book its lines, so the snapshot
of every factor used (provided ones included) is kept with the result for
audit and replay (R-FEE-1), and a replayed order event books nothing twice.
"""

from __future__ import annotations

import hashlib

from settlement_core.errors import IdempotencyConflict, ValidationError
from settlement_core.fees import FactorProvider, FeeEngine, Order
from settlement_core.ids import external_id
from settlement_core.model import CalculatedLine, FeeCalculated, FeeCalculation
from settlement_core.money import amount_str, to_minor
from settlement_core.services.context import Context, retrying
from settlement_core.services.ingest import book_in


def order_fingerprint(order: Order, sequence: int, run_id: str | None) -> str:
    """A stable hash of what was asked to be priced (not of what a provider answered)."""
    fields = [
        order.tenant_id,
        order.order_id,
        order.business,
        amount_str(order.amount),
        order.currency,
        order.at.isoformat(),
        str(sequence),
        run_id or "",
    ]
    for mapping in (order.attributes, order.parties):
        fields.extend(f"{k}={v}" for k, v in sorted(mapping.items()))
        fields.append("")
    fields.extend(f"{k}={v}" for k, v in sorted(order.factors.items()))
    # Ids and names are printable ASCII and factor values plain numbers: the unit
    # separator cannot occur inside a field.
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def settle_order(
    ctx: Context,
    engine: FeeEngine,
    order: Order,
    sequence: int,
    provider: FactorProvider | None = None,
    run_id: str | None = None,
) -> FeeCalculation:
    """Price order event `sequence` of `order`, book its lines and keep the calculation.

    Idempotent by (tenant, order id, sequence): a replay of the same request
    returns the stored calculation (priced with the factors of its first run,
    whatever a provider would answer now) and books nothing; a different request
    under the same event raises IdempotencyConflict. Nothing is stored when
    pricing or booking fails.
    """
    if not isinstance(engine, FeeEngine):
        raise ValidationError(f"settle_order needs a FeeEngine, got {type(engine).__name__}")
    if not isinstance(order, Order):
        raise ValidationError(f"settle_order needs an Order, got {type(order).__name__}")
    if run_id is not None:
        external_id(run_id, "run_id")
    ctx.not_after_now(order.at, "order time")
    fingerprint = order_fingerprint(order, sequence, run_id)

    def attempt() -> FeeCalculation:
        with ctx.uow() as uow:
            found = uow.fee_calculations.find(order.tenant_id, order.order_id, sequence)
            if found is not None:
                if found.request_hash != fingerprint:
                    raise IdempotencyConflict(
                        f"order {order.order_id!r} event {sequence} was priced from"
                        " a different request"
                    )
                return found
            settled = engine.settle(order, provider)
            # billing_items validates the sequence and the ids before anything is booked.
            commands = settled.commands(sequence, run_id)
            receipts = [book_in(ctx, uow, cmd) for cmd in commands]
            now = ctx.now()
            calculation = FeeCalculation(
                id=ctx.ids.new_id(),
                tenant_id=order.tenant_id,
                order_id=order.order_id,
                sequence=sequence,
                request_hash=fingerprint,
                rule_id=settled.rule_id,
                schedule=settled.fees.schedule,
                currency=order.currency,
                amount_minor=to_minor(order.amount),
                factors={name: str(value) for name, value in settled.fees.factors.items()},
                provided=tuple(settled.fees.provided),
                fees_minor={name: to_minor(m) for name, m in settled.fees.amounts.items()},
                lines=tuple(
                    CalculatedLine(line.party, line.line, to_minor(line.amount), line.charge)
                    for line in settled.split.lines
                ),
                item_ids=tuple(r.item_id for r in receipts),
                occurred_at=order.at,
                calculated_at=now,
                run_id=run_id,
            )
            calculation.events.append(
                FeeCalculated(
                    tenant_id=order.tenant_id,
                    at=now,
                    calculation_id=calculation.id,
                    order_id=order.order_id,
                    sequence=sequence,
                    rule_id=settled.rule_id,
                    item_ids=calculation.item_ids,
                )
            )
            uow.fee_calculations.add(calculation)
            uow.commit()
            return calculation

    return retrying(attempt)


def fee_calculations(ctx: Context, tenant_id: str, order_id: str) -> list[FeeCalculation]:
    """Every stored calculation of an order, by sequence (another tenant's: none)."""
    external_id(tenant_id, "tenant_id")
    external_id(order_id, "order_id")
    with ctx.uow() as uow:
        return uow.fee_calculations.for_order(tenant_id, order_id)
