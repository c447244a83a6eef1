"""Accounts: get or create by shop id (R-ACC-1), hold, release, rule changes."""

from __future__ import annotations

from attrs import frozen

from settlement_core.errors import ConcurrencyConflict, InvalidIdentifier
from settlement_core.ids import external_id
from settlement_core.model import DEFAULT_CHANNEL, Account, AccountOpened, OpenAccount
from settlement_core.rules import resolve_zone
from settlement_core.services.context import Context
from settlement_core.services.receivables import settlement_mode

MAX_ATTRIBUTES = 32


@frozen
class AccountReceipt:
    """The account a request resolved to, and whether this request created it."""

    account: Account
    created: bool


def _validate(cmd: OpenAccount, ctx: Context) -> None:
    external_id(cmd.tenant_id, "tenant_id")
    external_id(cmd.shop_id, "shop_id")
    resolve_zone(cmd.time_zone)
    if len(cmd.attributes) > MAX_ATTRIBUTES:
        raise InvalidIdentifier(f"at most {MAX_ATTRIBUTES} account attributes are allowed")
    for name, value in cmd.attributes.items():
        external_id(name, "attribute name")
        external_id(value, f"attribute {name}")
    if cmd.rule_override is not None:
        ctx.rules.rule(cmd.rule_override, ctx.now())
    if cmd.payout_method_ref is not None:
        external_id(cmd.payout_method_ref, "payout_method_ref")
    if cmd.payout_channel is not None:
        external_id(cmd.payout_channel, "payout_channel")
    settlement_mode(cmd.settlement_mode)


def get_or_create_account(ctx: Context, cmd: OpenAccount) -> AccountReceipt:
    """The account for (tenant, shop id), created with its rule on first sight.

    Idempotent by (tenant, shop id): a replay, or a concurrent creator that won
    the race, returns the existing account unchanged.
    """
    _validate(cmd, ctx)
    for _ in range(3):
        with ctx.uow() as uow:
            existing = uow.accounts.find_by_shop(cmd.tenant_id, cmd.shop_id)
            if existing is not None:
                return AccountReceipt(existing, created=False)
            now = ctx.now()
            account = Account(
                id=ctx.ids.new_id(),
                tenant_id=cmd.tenant_id,
                shop_id=cmd.shop_id,
                time_zone=cmd.time_zone,
                rule_id="",
                created_at=now,
                attributes=dict(cmd.attributes),
                rule_override=cmd.rule_override,
                payout_method_ref=cmd.payout_method_ref,
                payout_channel=cmd.payout_channel or DEFAULT_CHANNEL,
                settlement_mode=settlement_mode(cmd.settlement_mode),
            )
            rule = ctx.rules.select(account.segment_attributes(), cmd.rule_override, now)
            account.rule_id = rule.rule_id
            account.events.append(
                AccountOpened(
                    tenant_id=account.tenant_id,
                    at=now,
                    account_id=account.id,
                    shop_id=account.shop_id,
                    rule_id=rule.rule_id,
                )
            )
            uow.accounts.add(account)
            try:
                uow.commit()
            except ConcurrencyConflict:
                continue  # another writer created it first; read theirs
            return AccountReceipt(account, created=True)
    raise ConcurrencyConflict(f"could not get or create account for shop {cmd.shop_id!r}")


def hold_account(ctx: Context, tenant_id: str, account_id: str) -> Account:
    """Suspend payouts for an account (R-PAY-2); idempotent: holding a held account is a no-op."""
    with ctx.uow() as uow:
        account = uow.accounts.get(tenant_id, account_id)
        if not account.is_held:
            account.hold(ctx.now())
            uow.commit()
        return account


def release_account_hold(ctx: Context, tenant_id: str, account_id: str) -> Account:
    """Resume payouts for an account; idempotent: an active account stays as it is."""
    with ctx.uow() as uow:
        account = uow.accounts.get(tenant_id, account_id)
        if account.is_held:
            account.release_hold(ctx.now())
            uow.commit()
        return account


def assign_rule(ctx: Context, tenant_id: str, account_id: str, rule_id: str) -> Account:
    """Pin an account to a rule from its next cycle on; idempotent by rule id."""
    with ctx.uow() as uow:
        account = uow.accounts.get(tenant_id, account_id)
        ctx.rules.rule(rule_id, ctx.now())
        if account.rule_override != rule_id:
            account.assign_rule(rule_id, ctx.now())
            uow.commit()
        return account
