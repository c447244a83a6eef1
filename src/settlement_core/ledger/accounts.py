"""Names of the ledger accounts the library posts to.

A party's money sits first in `pending` (booked, not yet payable), then in
`available` (payable or carried forward), then leaves through
`payouts_in_flight` to a channel. Platform accounts mirror these so every
transaction balances.

The platform's cash at each channel is a second flow: `treasury` funds a
channel (`funds`), a funded release or an instant payout sets money aside
(`reserved`), and a paid payout spends it (`disbursed`). Money that comes back
(a final failure, a cancellation, a return) goes back to `funds`.
"""

from __future__ import annotations

CLEARING = "platform:clearing"
PAYOUTS_IN_FLIGHT = "platform:payouts_in_flight"
FX_POSITION = "platform:fx_position"
TREASURY = "platform:treasury"


def pending(account_id: str) -> str:
    """Booked items of open or not-yet-payable statements."""
    return f"party:{account_id}:pending"


def available(account_id: str) -> str:
    """Payable balance, including carried amounts and debt."""
    return f"party:{account_id}:available"


def frozen(account_id: str) -> str:
    """Available money set aside by a freeze, until it is confirmed or given back (R-LED-2)."""
    return f"party:{account_id}:frozen"


def receivable(account_id: str) -> str:
    """What a gross-settled party owes the platform, billed apart (negative while owed)."""
    return f"party:{account_id}:receivable"


# Where money parties paid in for their receivables goes (the platform's bank).
COLLECTED = "platform:collected"

# Where confirmed freezes send the money they spend (the host settles it from there).
SPENT = "platform:spent"


def channel_settled(channel: str) -> str:
    """Parties' money that left through a channel."""
    return f"channel:{channel}:settled"


def channel_funds(tenant_id: str, channel: str) -> str:
    """A tenant's money at a channel, not yet set aside for any payout."""
    return f"channel:{tenant_id}:{channel}:funds"


def channel_reserved(tenant_id: str, channel: str) -> str:
    """Money at a channel set aside for funded payouts not yet paid."""
    return f"channel:{tenant_id}:{channel}:reserved"


def channel_disbursed(tenant_id: str, channel: str) -> str:
    """Money a channel paid out."""
    return f"channel:{tenant_id}:{channel}:disbursed"


def party_accounts(account_id: str) -> tuple[str, str]:
    """Every ledger account that belongs to one party."""
    return pending(account_id), available(account_id)


def suspense(tenant_id: str) -> str:
    """Where a tenant parks differences nobody can explain yet (R-REC-3)."""
    return f"tenant:{tenant_id}:suspense"


def owned_by(account: str, tenant_id: str) -> bool:
    """Whether only `tenant_id`'s transactions touch this ledger account.

    Party accounts belong to one account (ids are unique across tenants) and a
    tenant's channel accounts carry its id; platform accounts and a channel's
    settled account gather every tenant's entries.
    """
    return account.startswith(("party:", f"channel:{tenant_id}:", f"tenant:{tenant_id}:"))
