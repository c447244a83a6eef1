"""Recording billing items (R-ING-1, 2, 3, 5): idempotent, one transaction per command."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from settlement_core.errors import (
    IdempotencyConflict,
    InvalidAmount,
    NegativeBalanceLimitExceeded,
    NotFound,
    RunRevoked,
    ValidationError,
)
from settlement_core.ids import external_id, external_ids
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.ledger import postings
from settlement_core.lifecycle import RunStatus
from settlement_core.model import (
    Account,
    AmountBasis,
    BillingItem,
    BillingItemRecorded,
    ItemKind,
    RecordBillingItem,
    Statement,
)
from settlement_core.model.commands import utc_text
from settlement_core.money import Money, format_amount, from_minor, request_amount, to_minor
from settlement_core.ports import UnitOfWork, metrics
from settlement_core.services.context import ATTEMPTS, Context, not_after, retrying
from settlement_core.services.statements import Periods, statement_for

MAX_BATCH = 10_000


@frozen
class ItemReceipt:
    """What a record request produced; `replayed` says it was recorded before."""

    item_id: str
    statement_id: str
    amount_minor: int
    currency: str
    replayed: bool

    @property
    def amount(self) -> Money:
        """The booked amount (built on demand: a batch of receipts is mostly counted)."""
        return from_minor(self.amount_minor, self.currency)


class _Valid:
    """A command that passed validation, with what booking it needs."""

    __slots__ = ("amount_minor", "cmd", "currency", "fingerprint")

    def __init__(self, cmd: RecordBillingItem, amount_minor: int, currency: str, fingerprint: str):
        self.cmd = cmd
        self.amount_minor = amount_minor
        self.currency = currency
        self.fingerprint = fingerprint


_ID_FIELDS = ("tenant_id", "shop_id", "key", "order_id")


def _validate(cmd: RecordBillingItem, horizon: datetime) -> _Valid:
    # Runs for every item of every batch: one check of the four ids together and one
    # pass over the amount, which the fingerprint reuses.
    if not isinstance(cmd, RecordBillingItem):
        raise ValidationError(f"expected RecordBillingItem, got {type(cmd).__name__}")
    external_ids((cmd.tenant_id, cmd.shop_id, cmd.key, cmd.order_id), _ID_FIELDS)
    if cmd.run_id is not None:
        external_id(cmd.run_id, "run_id")
    kind, basis, amount = cmd.kind, cmd.basis, cmd.amount
    if not isinstance(kind, ItemKind):
        raise ValidationError(f"kind must be one of {[k.value for k in ItemKind]}, got {kind!r}")
    if not isinstance(basis, AmountBasis):
        raise ValidationError(f"basis must be an AmountBasis, got {basis!r}")
    if not isinstance(amount, Money):
        raise InvalidAmount(f"amount must be Money, got {type(amount).__name__}")
    minor, amount_text, currency = request_amount(amount, "amount")
    occurred = not_after(cmd.occurred_at, "occurred_at", horizon)
    if basis is AmountBasis.ORDER_TOTAL:
        if minor < 0:
            raise InvalidAmount(f"an order total cannot be negative: {format_amount(amount)}")
    else:
        _check_sign(kind, minor, amount)
    fingerprint = cmd.fingerprint_with(amount_text, utc_text(occurred))
    return _Valid(cmd, minor, currency, fingerprint)


def _check_sign(kind: ItemKind, minor: int, amount: Money) -> None:
    # The amount is formatted only for the message: most items pass.
    if kind in (ItemKind.SALE, ItemKind.FEE_REFUND) and minor <= 0:
        raise InvalidAmount(
            f"a {kind.value}'s amount must be positive, got {format_amount(amount)}"
        )
    if kind in (ItemKind.REFUND, ItemKind.FEE) and minor >= 0:
        raise InvalidAmount(
            f"a {kind.value}'s amount must be negative, got {format_amount(amount)}"
        )
    if kind is ItemKind.ADJUSTMENT and minor == 0:
        raise InvalidAmount("an adjustment's amount must not be zero")


def _account(uow: UnitOfWork, tenant_id: str, shop_id: str) -> Account:
    account = uow.accounts.find_by_shop(tenant_id, shop_id)
    if account is None:
        raise NotFound(f"no account for shop {shop_id!r} of tenant {tenant_id!r}")
    return account


def _replay(existing: BillingItem, valid: _Valid) -> ItemReceipt:
    if existing.request_hash != valid.fingerprint:
        raise IdempotencyConflict(
            f"key {existing.key!r} was already used for a different billing item"
        )
    return ItemReceipt(
        existing.id, existing.statement_id, existing.amount_minor, existing.currency, replayed=True
    )


def _check_debt_limit(uow: UnitOfWork, statement: Statement, account_id: str, delta: int) -> None:
    limit = statement.rule.negative_balance_limit
    if delta >= 0 or limit is None:
        return
    currency = statement.currency
    if limit.currency.code != currency:
        return  # the limit is set in another currency and does not apply to this one
    balance = sum(
        uow.ledger.balance(name, currency) for name in ledger_accounts.party_accounts(account_id)
    )
    if balance + delta < -to_minor(limit):
        owed = format_amount(from_minor(-(balance + delta), currency))
        raise NegativeBalanceLimitExceeded(
            f"account {account_id} would owe {owed}, above its limit of {format_amount(limit)}"
        )


def _refuse_revoked(uow: UnitOfWork, tenant_id: str, run_id: str) -> None:
    # A run being withdrawn takes no more items: they would escape its revocation.
    run = uow.runs.find(tenant_id, run_id)
    if run is not None and run.status in (RunStatus.REVOKING, RunStatus.REVOKED):
        raise RunRevoked(f"run {run_id!r} is {run.status.value}; it takes no more items")


# An enum's `.value` is a property lookup: on the ingest path a dict answers quicker.
_KIND_VALUES = {kind: kind.value for kind in ItemKind}


def _book(
    ctx: Context, uow: UnitOfWork, valid: _Valid, now: datetime, periods: Periods
) -> ItemReceipt:
    cmd = valid.cmd
    tenant_id = cmd.tenant_id
    existing = uow.items.find_by_key(tenant_id, cmd.key)
    if existing is not None:
        return _replay(existing, valid)
    if cmd.run_id is not None:
        _refuse_revoked(uow, tenant_id, cmd.run_id)
    account = _account(uow, tenant_id, cmd.shop_id)
    account_id, currency, delta = account.id, valid.currency, valid.amount_minor
    order_total = None
    if cmd.basis is AmountBasis.ORDER_TOTAL:
        order_total = delta
        delta -= uow.items.booked_for_order(tenant_id, account_id, cmd.order_id, currency)
    statement = statement_for(ctx, uow, account, currency, cmd.occurred_at, now, periods)
    _check_debt_limit(uow, statement, account_id, delta)
    ids = ctx.ids
    item = BillingItem(
        id=ids.new_id(),
        tenant_id=tenant_id,
        key=cmd.key,
        account_id=account_id,
        order_id=cmd.order_id,
        kind=cmd.kind,
        amount_minor=delta,
        currency=currency,
        occurred_at=cmd.occurred_at,
        recorded_at=now,
        statement_id=statement.id,
        request_hash=valid.fingerprint,
        basis=cmd.basis,
        order_total_minor=order_total,
        run_id=cmd.run_id,
    )
    statement.book(delta)
    item.events.append(
        BillingItemRecorded(
            tenant_id=tenant_id,
            at=now,
            item_id=item.id,
            account_id=account_id,
            statement_id=statement.id,
            order_id=item.order_id,
            kind=_KIND_VALUES[item.kind],
            amount_minor=delta,
            currency=currency,
        )
    )
    uow.items.add(item)
    if delta:
        uow.ledger.post(
            postings.item_booked(ids.new_id(), tenant_id, account_id, item.id, currency, delta, now)
        )
    return ItemReceipt(item.id, statement.id, delta, currency, replayed=False)


def book_in(ctx: Context, uow: UnitOfWork, cmd: RecordBillingItem) -> ItemReceipt:
    """Validate and book one item inside a unit of work another command already holds."""
    return _book(ctx, uow, _validate(cmd, ctx.horizon()), ctx.now(), Periods(ctx.calendar))


def record_billing_item(ctx: Context, cmd: RecordBillingItem) -> ItemReceipt:
    """Book one item, its statement total and its ledger entries in one transaction.

    Idempotent by (tenant, key): a replay with the same content returns the first
    receipt marked `replayed`; other content under the same key raises
    IdempotencyConflict. With `basis=ORDER_TOTAL` only the difference from what
    the order already booked is recorded (R-ING-3).
    """
    valid = _validate(cmd, ctx.horizon())

    def attempt() -> ItemReceipt:
        with ctx.uow() as uow:
            receipt = _book(ctx, uow, valid, ctx.now(), Periods(ctx.calendar))
            if not receipt.replayed:
                uow.commit()
            return receipt

    receipt = retrying(attempt)
    count_ingested(ctx, [receipt])
    return receipt


def record_billing_items(ctx: Context, cmds: Sequence[RecordBillingItem]) -> list[ItemReceipt]:
    """Book a batch in one transaction: all items are stored, or none (same keys as one by one)."""
    if len(cmds) > MAX_BATCH:
        raise ValidationError(f"a batch holds at most {MAX_BATCH} items, got {len(cmds)}")
    horizon = ctx.horizon()
    valid = [_validate(cmd, horizon) for cmd in cmds]

    by_tenant: dict[str, list[_Valid]] = {}
    for v in valid:
        by_tenant.setdefault(v.cmd.tenant_id, []).append(v)

    def attempt() -> list[ItemReceipt]:
        with ctx.uow() as uow:
            now = ctx.now()
            for tenant_id, tenant_valid in by_tenant.items():
                _read_ahead(uow, tenant_id, tenant_valid, now)
            periods = Periods(ctx.calendar)
            receipts = [_book(ctx, uow, v, now, periods) for v in valid]
            if any(not r.replayed for r in receipts):
                uow.commit()
            return receipts

    # Every race a batch loses is on a key or statement that the next attempt sees
    # as written, so it progresses; allow one more attempt per item it might lose.
    receipts = retrying(attempt, attempts=ATTEMPTS + len(valid))
    count_ingested(ctx, receipts)
    return receipts


def _read_ahead(uow: UnitOfWork, tenant_id: str, valid: Sequence[_Valid], now: datetime) -> None:
    # A few queries for the whole batch instead of several per item: what the
    # keys, shops and statement series hold is then known to the unit of work.
    found = uow.items.find_by_keys(tenant_id, [v.cmd.key for v in valid])
    new = [v for v in valid if v.cmd.key not in found]
    if not new:
        return
    accounts = uow.accounts.find_by_shops(tenant_id, [v.cmd.shop_id for v in new])
    series = [(accounts[v.cmd.shop_id].id, v.currency) for v in new if v.cmd.shop_id in accounts]
    if series:
        start = min(v.cmd.occurred_at for v in new)
        end = max(now, *(v.cmd.occurred_at for v in new))
        uow.statements.load_series(series, start, end)


def count_ingested(ctx: Context, receipts: Sequence[ItemReceipt]) -> None:
    """Count receipts of committed work in the ingest metrics (replays count nothing)."""
    if isinstance(ctx.metrics, metrics.NoMetrics):
        return  # nobody counts: skip converting every receipt's amount
    # Counters only grow: sales and refunds are counted apart, each as a positive amount.
    amounts: dict[tuple[str, str], int] = {}
    new = 0
    for receipt in receipts:
        if not receipt.replayed:
            new += 1
            minor = receipt.amount_minor
            key = (receipt.currency, "in" if minor >= 0 else "out")
            amounts[key] = amounts.get(key, 0) + abs(minor)
    if new:
        ctx.metrics.count(metrics.ITEMS_INGESTED, new)
    for (code, direction), minor in sorted(amounts.items()):
        labels = {"currency": code, "direction": direction}
        ctx.metrics.count(metrics.AMOUNT_INGESTED, minor, labels)
