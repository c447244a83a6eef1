"""Rows to aggregates and back: the only place that knows the column layout.

Aggregates are rebuilt through their constructors, so attrs validators run on
every load, and nothing of SQLAlchemy reaches the domain classes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from settlement_core.lifecycle import (
    AccountStatus,
    BillingItemStatus,
    ChargeStatus,
    CollectionStatus,
    DiscrepancyStatus,
    FreezeStatus,
    PayoutStatus,
    ReleaseSummaryStatus,
    StatementStatus,
)
from settlement_core.model import (
    Account,
    AmountBasis,
    AnswerSource,
    BillingItem,
    CalculatedLine,
    ChannelEvent,
    Charge,
    ChargeKind,
    Collection,
    Discrepancy,
    DiscrepancyKind,
    FeeCalculation,
    Freeze,
    Funding,
    FxQuote,
    ItemKind,
    Payout,
    PayoutKind,
    PayoutSource,
    ReleaseSummary,
    SettlementMode,
    Statement,
    status_on,
)
from settlement_core.money import Money, amount_str, money
from settlement_core.rules import Cycle, CycleKind, PayoutRule, Period

Row = Mapping[str, Any]


def _money_out(value: Money | None) -> list[str] | None:
    return None if value is None else [amount_str(value), value.currency.code]


def _money_in(value: list[str] | None) -> Money | None:
    return None if value is None else money(value[0], value[1])


def rule_to_json(rule: PayoutRule) -> dict[str, Any]:
    """A rule snapshot as plain JSON."""
    return {
        "rule_id": rule.rule_id,
        "version": rule.version,
        "cycle": {
            "kind": rule.cycle.kind.value,
            "anchor_weekday": rule.cycle.anchor_weekday,
            "anchor_day": rule.cycle.anchor_day,
            "biweekly_epoch": rule.cycle.biweekly_epoch.isoformat(),
        },
        "auto_payment": rule.auto_payment,
        "payment_threshold": _money_out(rule.payment_threshold),
        "payment_currency": rule.payment_currency,
        "is_hold": rule.is_hold,
        "delay_days": rule.delay_days,
        "negative_balance_limit": _money_out(rule.negative_balance_limit),
        "effective_from": rule.effective_from.isoformat() if rule.effective_from else None,
    }


def rule_from_json(data: Mapping[str, Any]) -> PayoutRule:
    """The rule snapshot a statement was opened with."""
    cycle = data["cycle"]
    effective = data["effective_from"]
    return PayoutRule(
        rule_id=data["rule_id"],
        version=data["version"],
        cycle=Cycle(
            kind=CycleKind(cycle["kind"]),
            anchor_weekday=cycle["anchor_weekday"],
            anchor_day=cycle["anchor_day"],
            biweekly_epoch=date.fromisoformat(cycle["biweekly_epoch"]),
        ),
        auto_payment=data["auto_payment"],
        payment_threshold=_money_in(data["payment_threshold"]),
        payment_currency=data["payment_currency"],
        is_hold=data["is_hold"],
        delay_days=data["delay_days"],
        negative_balance_limit=_money_in(data["negative_balance_limit"]),
        effective_from=datetime.fromisoformat(effective) if effective else None,
    )


def account_row(a: Account) -> dict[str, Any]:
    """Columns of an account."""
    return {
        "id": a.id,
        "tenant_id": a.tenant_id,
        "shop_id": a.shop_id,
        "time_zone": a.time_zone,
        "rule_id": a.rule_id,
        "rule_override": a.rule_override,
        "payout_method_ref": a.payout_method_ref,
        "payout_channel": a.payout_channel,
        "settlement_mode": a.settlement_mode.value,
        "attributes": dict(a.attributes),
        "status": a.status.value,
        "created_at": a.created_at,
        "version": a.version,
    }


def account_from(r: Row) -> Account:
    """An account from its row."""
    return Account(
        id=r["id"],
        tenant_id=r["tenant_id"],
        shop_id=r["shop_id"],
        time_zone=r["time_zone"],
        rule_id=r["rule_id"],
        created_at=r["created_at"],
        attributes=dict(r["attributes"]),
        rule_override=r["rule_override"],
        payout_method_ref=r["payout_method_ref"],
        payout_channel=r["payout_channel"],
        settlement_mode=SettlementMode(r["settlement_mode"]),
        status=AccountStatus(r["status"]),
        version=r["version"],
    )


def item_row(i: BillingItem) -> dict[str, Any]:
    """Columns of a billing item."""
    return {
        "id": i.id,
        "tenant_id": i.tenant_id,
        "item_key": i.key,
        "account_id": i.account_id,
        "order_id": i.order_id,
        "kind": i.kind.value,
        "amount_minor": i.amount_minor,
        "currency": i.currency,
        "occurred_at": i.occurred_at,
        "recorded_at": i.recorded_at,
        "statement_id": i.statement_id,
        "request_hash": i.request_hash,
        "basis": i.basis.value,
        "order_total_minor": i.order_total_minor,
        "run_id": i.run_id,
        "status": i.status.value,
        "version": i.version,
    }


def item_from(r: Row) -> BillingItem:
    """A billing item from its row."""
    return BillingItem(
        id=r["id"],
        tenant_id=r["tenant_id"],
        key=r["item_key"],
        account_id=r["account_id"],
        order_id=r["order_id"],
        kind=ItemKind(r["kind"]),
        amount_minor=r["amount_minor"],
        currency=r["currency"],
        occurred_at=r["occurred_at"],
        recorded_at=r["recorded_at"],
        statement_id=r["statement_id"],
        request_hash=r["request_hash"],
        basis=AmountBasis(r["basis"]),
        order_total_minor=r["order_total_minor"],
        run_id=r["run_id"],
        # Read with its statement's status (see repositories.ITEM_READ): a close
        # leaves the rows pending.
        status=status_on(BillingItemStatus(r["status"]), StatementStatus(r["statement_status"])),
        version=r["version"],
    )


def statement_row(s: Statement) -> dict[str, Any]:
    """Columns of a statement."""
    return {
        "id": s.id,
        "tenant_id": s.tenant_id,
        "account_id": s.account_id,
        "currency": s.currency,
        "period_start": s.period.start,
        "period_end": s.period.end,
        "rule": s.rule,
        "payout_date": s.payout_date,
        "payable_at": s.payable_at,
        "opened_at": s.opened_at,
        "total_minor": s.total_minor,
        "item_count": s.item_count,
        "status": s.status.value,
        "closed_at": s.closed_at,
        "recount_minor": s.recount_minor,
        "brought_forward_minor": s.brought_forward_minor,
        "carried_forward_minor": s.carried_forward_minor,
        "payout_id": s.payout_id,
        "version": s.version,
    }


@functools.lru_cache(maxsize=4096)
def _period(start: datetime, end: datetime) -> Period:
    # Statements of a batch share a few periods: a frozen Period each is built once.
    return Period(start, end)


def statement_from(r: Row) -> Statement:
    """A statement from its row."""
    return Statement(
        id=r["id"],
        tenant_id=r["tenant_id"],
        account_id=r["account_id"],
        currency=r["currency"],
        period=_period(r["period_start"], r["period_end"]),
        rule=r["rule"],
        payout_date=r["payout_date"],
        payable_at=r["payable_at"],
        opened_at=r["opened_at"],
        total_minor=r["total_minor"],
        item_count=r["item_count"],
        status=StatementStatus(r["status"]),
        closed_at=r["closed_at"],
        recount_minor=r["recount_minor"],
        brought_forward_minor=r["brought_forward_minor"],
        carried_forward_minor=r["carried_forward_minor"],
        payout_id=r["payout_id"],
        version=r["version"],
    )


def _source_out(s: PayoutSource) -> dict[str, Any]:
    fx = s.fx
    return {
        "currency": s.currency,
        "amount_minor": s.amount_minor,
        "converted_minor": s.converted_minor,
        "fx": None
        if fx is None
        else {
            "base": fx.base,
            "quote": fx.quote,
            "rate": str(fx.rate),
            "as_of": fx.as_of.astimezone(UTC).isoformat(),
            "source": fx.source,
        },
    }


def _source_in(d: Mapping[str, Any]) -> PayoutSource:
    fx = d["fx"]
    return PayoutSource(
        currency=d["currency"],
        amount_minor=d["amount_minor"],
        converted_minor=d["converted_minor"],
        fx=None
        if fx is None
        else FxQuote(
            base=fx["base"],
            quote=fx["quote"],
            rate=Decimal(fx["rate"]),
            as_of=datetime.fromisoformat(fx["as_of"]),
            source=fx["source"],
        ),
    )


def payout_row(p: Payout) -> dict[str, Any]:
    """Columns of a payout."""
    return {
        "id": p.id,
        "tenant_id": p.tenant_id,
        "account_id": p.account_id,
        "payout_key": p.key,
        "amount_minor": p.amount_minor,
        "currency": p.currency,
        "sources": [_source_out(s) for s in p.sources],
        "statement_ids": list(p.statement_ids),
        "created_at": p.created_at,
        "transaction_id": p.transaction_id,
        "method_ref": p.method_ref,
        "status": p.status.value,
        "attempts": p.attempts,
        "approved_by": p.approved_by,
        "kind": p.kind.value,
        "channel": p.channel,
        "release_id": p.release_id,
        "funded": p.funded,
        "submitted_at": p.submitted_at,
        "next_attempt_at": p.next_attempt_at,
        "failure_code": p.failure_code,
        "replaces": list(p.replaces),
        "replaced_by": p.replaced_by,
        "version": p.version,
    }


def payout_from(r: Row) -> Payout:
    """A payout from its row."""
    return Payout(
        id=r["id"],
        tenant_id=r["tenant_id"],
        account_id=r["account_id"],
        key=r["payout_key"],
        amount_minor=r["amount_minor"],
        currency=r["currency"],
        sources=tuple(_source_in(s) for s in r["sources"]),
        statement_ids=tuple(r["statement_ids"]),
        created_at=r["created_at"],
        transaction_id=r["transaction_id"],
        method_ref=r["method_ref"],
        status=PayoutStatus(r["status"]),
        attempts=r["attempts"],
        approved_by=r["approved_by"],
        kind=PayoutKind(r["kind"]),
        channel=r["channel"],
        release_id=r["release_id"],
        funded=bool(r["funded"]),
        submitted_at=r["submitted_at"],
        next_attempt_at=r["next_attempt_at"],
        failure_code=r["failure_code"],
        replaces=tuple(r["replaces"] or ()),
        replaced_by=r["replaced_by"],
        version=r["version"],
    )


def release_row(s: ReleaseSummary) -> dict[str, Any]:
    """Columns of a release summary."""
    return {
        "id": s.id,
        "tenant_id": s.tenant_id,
        "channel": s.channel,
        "currency": s.currency,
        "total_minor": s.total_minor,
        "payout_ids": list(s.payout_ids),
        "created_at": s.created_at,
        "status": s.status.value,
        "version": s.version,
    }


def release_from(r: Row) -> ReleaseSummary:
    """A release summary from its row."""
    return ReleaseSummary(
        id=r["id"],
        tenant_id=r["tenant_id"],
        channel=r["channel"],
        currency=r["currency"],
        total_minor=r["total_minor"],
        payout_ids=tuple(r["payout_ids"]),
        created_at=r["created_at"],
        status=ReleaseSummaryStatus(r["status"]),
        version=r["version"],
    )


def funding_row(f: Funding) -> dict[str, Any]:
    """Columns of a funding."""
    return {
        "id": f.id,
        "tenant_id": f.tenant_id,
        "channel": f.channel,
        "currency": f.currency,
        "amount_minor": f.amount_minor,
        "reference": f.reference,
        "recorded_at": f.recorded_at,
        "version": f.version,
    }


def funding_from(r: Row) -> Funding:
    """A funding from its row."""
    return Funding(
        id=r["id"],
        tenant_id=r["tenant_id"],
        channel=r["channel"],
        currency=r["currency"],
        amount_minor=r["amount_minor"],
        reference=r["reference"],
        recorded_at=r["recorded_at"],
        version=r["version"],
    )


def channel_event_row(e: ChannelEvent) -> dict[str, Any]:
    """Columns of a channel answer."""
    return {
        "id": e.id,
        "tenant_id": e.tenant_id,
        "channel": e.channel,
        "payout_id": e.payout_id,
        "idempotency_key": e.idempotency_key,
        "outcome": e.outcome,
        "source": e.source.value,
        "received_at": e.received_at,
        "applied": e.applied,
        "code": e.code,
        "message": e.message,
        "nonce": e.nonce,
    }


def channel_event_from(r: Row) -> ChannelEvent:
    """A channel answer from its row."""
    return ChannelEvent(
        id=r["id"],
        tenant_id=r["tenant_id"],
        channel=r["channel"],
        payout_id=r["payout_id"],
        idempotency_key=r["idempotency_key"],
        outcome=r["outcome"],
        source=AnswerSource(r["source"]),
        received_at=r["received_at"],
        applied=bool(r["applied"]),
        code=r["code"],
        message=r["message"],
        nonce=r["nonce"],
    )


def discrepancy_row(d: Discrepancy) -> dict[str, Any]:
    """Columns of a discrepancy."""
    return {
        "id": d.id,
        "tenant_id": d.tenant_id,
        "kind": d.kind.value,
        "finding_key": d.key,
        "subjects": list(d.subjects),
        "found_at": d.found_at,
        "detail": d.detail,
        "currency": d.currency,
        "expected_minor": d.expected_minor,
        "actual_minor": d.actual_minor,
        "status": d.status.value,
        "resolution": d.resolution,
        "resolved_by": d.resolved_by,
        "resolved_at": d.resolved_at,
        "version": d.version,
    }


def discrepancy_from(r: Row) -> Discrepancy:
    """A discrepancy from its row."""
    return Discrepancy(
        id=r["id"],
        tenant_id=r["tenant_id"],
        kind=DiscrepancyKind(r["kind"]),
        key=r["finding_key"],
        subjects=tuple(r["subjects"]),
        found_at=r["found_at"],
        detail=r["detail"],
        currency=r["currency"],
        expected_minor=_int_or_none(r["expected_minor"]),
        actual_minor=_int_or_none(r["actual_minor"]),
        status=DiscrepancyStatus(r["status"]),
        resolution=r["resolution"],
        resolved_by=r["resolved_by"],
        resolved_at=r["resolved_at"],
        version=r["version"],
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def freeze_row(f: Freeze) -> dict[str, Any]:
    """Columns of a freeze."""
    return {
        "id": f.id,
        "tenant_id": f.tenant_id,
        "account_id": f.account_id,
        "reference": f.reference,
        "currency": f.currency,
        "amount_minor": f.amount_minor,
        "created_at": f.created_at,
        "expires_at": f.expires_at,
        "status": f.status.value,
        "version": f.version,
    }


def freeze_from(r: Row) -> Freeze:
    """A freeze from its row."""
    return Freeze(
        id=r["id"],
        tenant_id=r["tenant_id"],
        account_id=r["account_id"],
        reference=r["reference"],
        currency=r["currency"],
        amount_minor=int(r["amount_minor"]),
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        status=FreezeStatus(r["status"]),
        version=r["version"],
    )


def charge_row(c: Charge) -> dict[str, Any]:
    """Columns of a charge."""
    return {
        "id": c.id,
        "tenant_id": c.tenant_id,
        "account_id": c.account_id,
        "kind": c.kind.value,
        "reference": c.reference,
        "currency": c.currency,
        "amount_minor": c.amount_minor,
        "reason": c.reason,
        "proposed_by": c.proposed_by,
        "proposed_at": c.proposed_at,
        "status": c.status.value,
        "decided_by": c.decided_by,
        "decided_at": c.decided_at,
        "item_id": c.item_id,
        "version": c.version,
    }


def charge_from(r: Row) -> Charge:
    """A charge from its row."""
    return Charge(
        id=r["id"],
        tenant_id=r["tenant_id"],
        account_id=r["account_id"],
        kind=ChargeKind(r["kind"]),
        reference=r["reference"],
        currency=r["currency"],
        amount_minor=int(r["amount_minor"]),
        reason=r["reason"],
        proposed_by=r["proposed_by"],
        proposed_at=r["proposed_at"],
        status=ChargeStatus(r["status"]),
        decided_by=r["decided_by"],
        decided_at=r["decided_at"],
        item_id=r["item_id"],
        version=r["version"],
    )


def collection_row(c: Collection) -> dict[str, Any]:
    """Columns of a collection."""
    return {
        "id": c.id,
        "tenant_id": c.tenant_id,
        "account_id": c.account_id,
        "collection_key": c.key,
        "currency": c.currency,
        "amount_minor": c.amount_minor,
        "collected_minor": c.collected_minor,
        "offset_minor": c.offset_minor,
        "statement_ids": list(c.statement_ids),
        "created_at": c.created_at,
        "status": c.status.value,
        "closed_at": c.closed_at,
        "version": c.version,
    }


def collection_from(r: Row) -> Collection:
    """A collection from its row."""
    return Collection(
        id=r["id"],
        tenant_id=r["tenant_id"],
        account_id=r["account_id"],
        key=r["collection_key"],
        currency=r["currency"],
        amount_minor=int(r["amount_minor"]),
        statement_ids=tuple(r["statement_ids"]),
        created_at=r["created_at"],
        collected_minor=int(r["collected_minor"]),
        offset_minor=int(r["offset_minor"]),
        status=CollectionStatus(r["status"]),
        closed_at=r["closed_at"],
        version=r["version"],
    )


def fee_calculation_row(f: FeeCalculation) -> dict[str, Any]:
    """Columns of a fee calculation."""
    return {
        "id": f.id,
        "tenant_id": f.tenant_id,
        "order_id": f.order_id,
        "sequence": f.sequence,
        "request_hash": f.request_hash,
        "rule_id": f.rule_id,
        "schedule": f.schedule,
        "currency": f.currency,
        "amount_minor": f.amount_minor,
        "factors": dict(f.factors),
        "provided": list(f.provided),
        "fees": dict(f.fees_minor),
        "lines": [[x.party, x.line, x.amount_minor, x.charge] for x in f.lines],
        "item_ids": list(f.item_ids),
        "occurred_at": f.occurred_at,
        "calculated_at": f.calculated_at,
        "run_id": f.run_id,
        "version": f.version,
    }


def fee_calculation_from(r: Row) -> FeeCalculation:
    """A fee calculation from its row."""
    return FeeCalculation(
        id=r["id"],
        tenant_id=r["tenant_id"],
        order_id=r["order_id"],
        sequence=int(r["sequence"]),
        request_hash=r["request_hash"],
        rule_id=r["rule_id"],
        schedule=r["schedule"],
        currency=r["currency"],
        amount_minor=int(r["amount_minor"]),
        factors=dict(r["factors"]),
        provided=tuple(r["provided"]),
        fees_minor={name: int(v) for name, v in r["fees"].items()},
        lines=tuple(
            CalculatedLine(party, line, int(minor), bool(charge))
            for party, line, minor, charge in r["lines"]
        ),
        item_ids=tuple(r["item_ids"]),
        occurred_at=r["occurred_at"],
        calculated_at=r["calculated_at"],
        run_id=r["run_id"],
        version=r["version"],
    )
