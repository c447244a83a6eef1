"""The journal transactions each business event posts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from settlement_core.ledger import accounts
from settlement_core.ledger.journal import Entry, JournalTransaction


def transfer(
    tx_id: str,
    tenant_id: str,
    kind: str,
    reference: str,
    at: datetime,
    source: str,
    dest: str,
    currency: str,
    amount_minor: int,
) -> JournalTransaction:
    """Move an amount from one ledger account to another: the two-leg transaction."""
    return JournalTransaction.transfer(
        tx_id, tenant_id, kind, reference, at, (source, dest, currency, amount_minor)
    )


def item_booked(
    tx_id: str,
    tenant_id: str,
    account_id: str,
    item_id: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """Clearing hands an item's amount to the party's pending balance."""
    legs = (accounts.CLEARING, accounts.pending(account_id), currency, amount_minor)
    return JournalTransaction.transfer(tx_id, tenant_id, "item.booked", item_id, at, legs)


def statement_payable(
    tx_id: str,
    tenant_id: str,
    account_id: str,
    statement_id: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """A due statement's total moves from pending to available."""
    return transfer(
        tx_id,
        tenant_id,
        "statement.payable",
        statement_id,
        at,
        accounts.pending(account_id),
        accounts.available(account_id),
        currency,
        amount_minor,
    )


def payout_created(
    tx_id: str,
    tenant_id: str,
    account_id: str,
    payout_id: str,
    currency: str,
    amount_minor: int,
    sources: Sequence[tuple[str, int, int]],
    at: datetime,
) -> JournalTransaction:
    """Available balances (per source currency, converted) move into payouts in flight.

    `sources` holds (source currency, source amount, converted amount); a
    conversion passes through the FX position so both currencies balance.
    """
    entries: list[Entry] = []
    for source_ccy, source_minor, converted_minor in sources:
        entries.append(Entry(accounts.available(account_id), source_ccy, -source_minor))
        if source_ccy != currency:
            entries.append(Entry(accounts.FX_POSITION, source_ccy, source_minor))
            entries.append(Entry(accounts.FX_POSITION, currency, -converted_minor))
    entries.append(Entry(accounts.PAYOUTS_IN_FLIGHT, currency, amount_minor))
    return JournalTransaction(
        id=tx_id,
        tenant_id=tenant_id,
        kind="payout.created",
        reference=payout_id,
        occurred_at=at,
        entries=tuple(entries),
    )


def payout_paid(
    tx_id: str,
    tenant_id: str,
    payout_id: str,
    channel: str,
    currency: str,
    amount_minor: int,
    funded: bool,
    at: datetime,
) -> JournalTransaction:
    """The channel paid: the money leaves the platform, and a funded payout spends its reserve."""
    entries = [
        Entry(accounts.PAYOUTS_IN_FLIGHT, currency, -amount_minor),
        Entry(accounts.channel_settled(channel), currency, amount_minor),
    ]
    if funded:
        entries.append(
            Entry(accounts.channel_reserved(tenant_id, channel), currency, -amount_minor)
        )
        entries.append(
            Entry(accounts.channel_disbursed(tenant_id, channel), currency, amount_minor)
        )
    return JournalTransaction(
        id=tx_id,
        tenant_id=tenant_id,
        kind="payout.paid",
        reference=payout_id,
        occurred_at=at,
        entries=tuple(entries),
    )


def channel_funded(
    tx_id: str,
    tenant_id: str,
    funding_id: str,
    channel: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """Operations moved money from the treasury to a channel (R-REL-2)."""
    return transfer(
        tx_id,
        tenant_id,
        "channel.funded",
        funding_id,
        at,
        accounts.TREASURY,
        accounts.channel_funds(tenant_id, channel),
        currency,
        amount_minor,
    )


def reserve(
    tx_id: str,
    tenant_id: str,
    kind: str,
    reference: str,
    channel: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """Set channel money aside for a funded release or an instant payout."""
    return transfer(
        tx_id,
        tenant_id,
        kind,
        reference,
        at,
        accounts.channel_funds(tenant_id, channel),
        accounts.channel_reserved(tenant_id, channel),
        currency,
        amount_minor,
    )


def unreserve(
    tx_id: str,
    tenant_id: str,
    payout_id: str,
    channel: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """A funded payout that will not be paid gives its reserve back to the channel's funds."""
    return transfer(
        tx_id,
        tenant_id,
        "payout.unreserved",
        payout_id,
        at,
        accounts.channel_reserved(tenant_id, channel),
        accounts.channel_funds(tenant_id, channel),
        currency,
        amount_minor,
    )


def statement_receivable(
    tx_id: str,
    tenant_id: str,
    account_id: str,
    statement_id: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """A gross party's share of a due statement that it owes moves from pending to receivable.

    `amount_minor` is the receivable part of the statement (negative: fees owed).
    """
    return transfer(
        tx_id,
        tenant_id,
        "statement.receivable",
        statement_id,
        at,
        accounts.pending(account_id),
        accounts.receivable(account_id),
        currency,
        amount_minor,
    )


def collection_received(
    tx_id: str,
    tenant_id: str,
    account_id: str,
    reference: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """The party paid `amount_minor` (> 0) of its receivable into the platform's bank."""
    return transfer(
        tx_id,
        tenant_id,
        "collection.received",
        reference,
        at,
        accounts.COLLECTED,
        accounts.receivable(account_id),
        currency,
        amount_minor,
    )


def collection_offset(
    tx_id: str,
    tenant_id: str,
    account_id: str,
    collection_id: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> JournalTransaction:
    """What a collection still bills (> 0 owed) nets against the party's available balance."""
    return transfer(
        tx_id,
        tenant_id,
        "collection.offset",
        collection_id,
        at,
        accounts.available(account_id),
        accounts.receivable(account_id),
        currency,
        amount_minor,
    )
