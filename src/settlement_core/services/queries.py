"""Read side (R-QRY-1): lookups by id and filtered, keyset-paginated queries.

Every query names its tenant and never returns another tenant's rows (R-SEC-2).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TypeVar

import attrs
from attrs import field, frozen

from settlement_core.errors import ValidationError
from settlement_core.ids import external_id
from settlement_core.ledger import accounts as ledger_accounts
from settlement_core.lifecycle import CollectionStatus, DiscrepancyStatus
from settlement_core.model import (
    Account,
    BillingItem,
    ChannelEvent,
    Collection,
    Discrepancy,
    Payout,
    ReleaseSummary,
    Statement,
)
from settlement_core.money import Money, from_minor, get_currency
from settlement_core.ports import ItemFilter, Page, PayoutFilter, StatementFilter
from settlement_core.ports.queries import MAX_PAGE_SIZE
from settlement_core.services.context import Context
from settlement_core.timestamps import require_aware

MAX_IDS = 1000


@frozen
class Balance:
    """An account's money per currency: booked but not yet payable, payable, frozen, owed.

    `receivable` is what a gross-settled party owes the platform on collections
    not yet paid (negative, as the ledger holds it); a netting party has none,
    its fees are in `pending` and `available`.
    """

    pending: dict[str, Money]
    available: dict[str, Money]
    frozen: dict[str, Money] = field(factory=dict)
    receivable: dict[str, Money] = field(factory=dict)


Filter = TypeVar("Filter", ItemFilter, StatementFilter, PayoutFilter)


def _checked(where: Filter) -> Filter:
    """The filter, if every field is what it claims (filters are built from user input).

    Ids are printable ASCII, the currency is known, instants are time-zone aware,
    amounts are integers: anything else is a typed error, never a driver's.
    """
    external_id(where.tenant_id, "tenant_id")
    for name, value in attrs.asdict(where, recurse=False).items():
        if value is None or name == "tenant_id":
            continue
        if name == "currency":
            get_currency(value)
        elif name == "status":
            if not isinstance(value, enum.Enum):
                raise ValidationError(f"status must be a status enum, got {value!r}")
        elif name.endswith("_minor"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"{name} must be an int, got {value!r}")
        elif name.endswith(("_from", "_to")):
            require_aware(value, name)
        else:
            external_id(value, name)
    return where


def _lookup(tenant_id: str, value: str, what: str) -> None:
    """Ids a caller looks up are identifiers, whatever a user typed into them."""
    external_id(tenant_id, "tenant_id")
    external_id(value, what)


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 0 < limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit!r}")
    return limit


def get_account(ctx: Context, tenant_id: str, account_id: str) -> Account:
    """One account by id (NotFound for an unknown id or another tenant's)."""
    _lookup(tenant_id, account_id, "account_id")
    with ctx.uow() as uow:
        return uow.accounts.get(tenant_id, account_id)


def find_account(ctx: Context, tenant_id: str, shop_id: str) -> Account | None:
    """The account for a host's shop id, if any."""
    _lookup(tenant_id, shop_id, "shop_id")
    with ctx.uow() as uow:
        return uow.accounts.find_by_shop(tenant_id, shop_id)


def get_items(ctx: Context, tenant_id: str, item_ids: Sequence[str]) -> list[BillingItem]:
    """Billing items by id, in the order asked; unknown ids are left out."""
    external_id(tenant_id, "tenant_id")
    if len(item_ids) > MAX_IDS:
        raise ValidationError(f"at most {MAX_IDS} ids per call, got {len(item_ids)}")
    for item_id in item_ids:
        external_id(item_id, "item id")
    with ctx.uow() as uow:
        return uow.items.get_many(tenant_id, list(item_ids))


def query_items(
    ctx: Context, where: ItemFilter, after: str | None = None, limit: int = 100
) -> Page[BillingItem]:
    """Billing items matching a filter, a page at a time."""
    with ctx.uow() as uow:
        return uow.items.query(_checked(where), after, _limit(limit))


def get_statement(ctx: Context, tenant_id: str, statement_id: str) -> Statement:
    """One statement by id."""
    _lookup(tenant_id, statement_id, "statement_id")
    with ctx.uow() as uow:
        return uow.statements.get(tenant_id, statement_id)


def query_statements(
    ctx: Context, where: StatementFilter, after: str | None = None, limit: int = 100
) -> Page[Statement]:
    """Statements matching a filter, a page at a time."""
    with ctx.uow() as uow:
        return uow.statements.query(_checked(where), after, _limit(limit))


def get_payout(ctx: Context, tenant_id: str, payout_id: str) -> Payout:
    """One payout by id."""
    _lookup(tenant_id, payout_id, "payout_id")
    with ctx.uow() as uow:
        return uow.payouts.get(tenant_id, payout_id)


def query_payouts(
    ctx: Context, where: PayoutFilter, after: str | None = None, limit: int = 100
) -> Page[Payout]:
    """Payouts matching a filter, a page at a time."""
    with ctx.uow() as uow:
        return uow.payouts.query(_checked(where), after, _limit(limit))


def get_release(ctx: Context, tenant_id: str, summary_id: str) -> ReleaseSummary:
    """One release summary by id."""
    _lookup(tenant_id, summary_id, "summary_id")
    with ctx.uow() as uow:
        return uow.releases.get(tenant_id, summary_id)


def channel_events(ctx: Context, tenant_id: str, payout_id: str) -> list[ChannelEvent]:
    """What the channel said about one payout (NotFound for another tenant's payout)."""
    _lookup(tenant_id, payout_id, "payout_id")
    with ctx.uow() as uow:
        uow.payouts.get(tenant_id, payout_id)
        return uow.channel_events.for_payout(tenant_id, payout_id)


def get_discrepancy(ctx: Context, tenant_id: str, discrepancy_id: str) -> Discrepancy:
    """One discrepancy by id (NotFound for another tenant's)."""
    _lookup(tenant_id, discrepancy_id, "discrepancy_id")
    with ctx.uow() as uow:
        return uow.discrepancies.get(tenant_id, discrepancy_id)


def query_discrepancies(
    ctx: Context,
    tenant_id: str,
    status: DiscrepancyStatus | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[Discrepancy]:
    """A tenant's discrepancies, by status, in id order after a cursor."""
    external_id(tenant_id, "tenant_id")
    with ctx.uow() as uow:
        return uow.discrepancies.query(tenant_id, status, after, _limit(limit))


def balance(ctx: Context, tenant_id: str, account_id: str) -> Balance:
    """An account's pending and available balances, derived from the ledger."""
    _lookup(tenant_id, account_id, "account_id")
    with ctx.uow() as uow:
        account = uow.accounts.get(tenant_id, account_id)
        pending = uow.ledger.balances(ledger_accounts.pending(account.id))
        available = uow.ledger.balances(ledger_accounts.available(account.id))
        frozen = uow.ledger.balances(ledger_accounts.frozen(account.id))
        receivable = uow.ledger.balances(ledger_accounts.receivable(account.id))
    return Balance(
        pending=_as_money(pending),
        available=_as_money(available),
        frozen=_as_money(frozen),
        receivable=_as_money(receivable),
    )


def _as_money(minor: dict[str, int]) -> dict[str, Money]:
    return {c: from_minor(v, c) for c, v in sorted(minor.items())}


def get_collection(ctx: Context, tenant_id: str, collection_id: str) -> Collection:
    """One collection by id (NotFound for another tenant's)."""
    _lookup(tenant_id, collection_id, "collection_id")
    with ctx.uow() as uow:
        return uow.collections.get(tenant_id, collection_id)


def query_collections(
    ctx: Context,
    tenant_id: str,
    account_id: str | None = None,
    status: CollectionStatus | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[Collection]:
    """A tenant's collections (of one account, in one state), in id order after a cursor."""
    external_id(tenant_id, "tenant_id")
    if account_id is not None:
        external_id(account_id, "account_id")
    if status is not None and not isinstance(status, CollectionStatus):
        raise ValidationError(f"status must be a CollectionStatus, got {status!r}")
    with ctx.uow() as uow:
        return uow.collections.query(tenant_id, account_id, status, after, _limit(limit))
