"""Names of the ledger accounts the library posts to.

A party's money sits first in `pending` (booked, not yet payable), then in
`available` (payable or carried forward), then leaves through
`payouts_in_flight` to a channel. Platform accounts mirror these so every
transaction balances.
"""

from __future__ import annotations

CLEARING = "platform:clearing"
PAYOUTS_IN_FLIGHT = "platform:payouts_in_flight"
FX_POSITION = "platform:fx_position"


def pending(account_id: str) -> str:
    """Booked items of open or not-yet-payable statements."""
    return f"party:{account_id}:pending"


def available(account_id: str) -> str:
    """Payable balance, including carried amounts and debt."""
    return f"party:{account_id}:available"


def channel_settled(method_ref: str | None) -> str:
    """Money that left through a channel."""
    return f"channel:{method_ref or 'default'}:settled"


def party_accounts(account_id: str) -> tuple[str, str]:
    """Every ledger account that belongs to one party."""
    return pending(account_id), available(account_id)
