"""The double-entry journal (R-LED-1): immutable, balanced transactions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from attrs import field, frozen

from settlement_core.errors import UnbalancedTransaction


@frozen
class Entry:
    """One leg: a signed amount in minor units on one ledger account.

    Positive amounts increase what the ledger account holds (for a party: what
    we owe it); a transaction's legs sum to zero per currency.
    """

    account: str
    currency: str
    amount_minor: int


_new = object.__new__
_set = object.__setattr__  # the frozen classes' own way of setting fields in __init__


def _balanced(_: object, __: object, entries: tuple[Entry, ...]) -> None:
    if not entries:
        raise UnbalancedTransaction("a journal transaction needs at least one entry")
    totals: dict[str, int] = {}
    for entry in entries:
        if type(entry.amount_minor) is not int:
            raise UnbalancedTransaction(f"entry amount {entry.amount_minor!r} is not an integer")
        totals[entry.currency] = totals.get(entry.currency, 0) + entry.amount_minor
    if any(totals.values()):
        off = {ccy: total for ccy, total in totals.items() if total}
        raise UnbalancedTransaction(f"entries do not sum to zero: {off}")


def _as_tuple(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    return tuple(entries)


@frozen(kw_only=True)
class JournalTransaction:
    """A balanced set of entries, posted once, never updated; corrections reverse."""

    id: str
    tenant_id: str
    kind: str
    reference: str
    occurred_at: datetime
    entries: tuple[Entry, ...] = field(converter=_as_tuple, validator=_balanced)
    reverses: str | None = None

    @classmethod
    def transfer(
        cls,
        tx_id: str,
        tenant_id: str,
        kind: str,
        reference: str,
        at: datetime,
        legs: tuple[str, str, str, int],
    ) -> JournalTransaction:
        """The two legs (source, dest, currency, amount) moving an amount between two accounts.

        Balanced by construction, so of `_balanced` only the integer check is left;
        built field by field, as this runs for every item booked.
        """
        source, dest, currency, amount_minor = legs
        if type(amount_minor) is not int:
            raise UnbalancedTransaction(f"entry amount {amount_minor!r} is not an integer")
        out = _new(Entry)
        _set(out, "account", source)
        _set(out, "currency", currency)
        _set(out, "amount_minor", -amount_minor)
        into = _new(Entry)
        _set(into, "account", dest)
        _set(into, "currency", currency)
        _set(into, "amount_minor", amount_minor)
        tx = _new(cls)
        _set(tx, "id", tx_id)
        _set(tx, "tenant_id", tenant_id)
        _set(tx, "kind", kind)
        _set(tx, "reference", reference)
        _set(tx, "occurred_at", at)
        _set(tx, "entries", (out, into))
        _set(tx, "reverses", None)
        return tx

    def reversal(self, new_id: str, at: datetime, reference: str) -> JournalTransaction:
        """The transaction that undoes this one exactly."""
        return JournalTransaction(
            id=new_id,
            tenant_id=self.tenant_id,
            kind=f"{self.kind}.reversal",
            reference=reference,
            occurred_at=at,
            entries=tuple(Entry(e.account, e.currency, -e.amount_minor) for e in self.entries),
            reverses=self.id,
        )


def net(entries: Iterable[Entry]) -> dict[tuple[str, str], int]:
    """Sum entries per (ledger account, currency), dropping zeros."""
    totals: defaultdict[tuple[str, str], int] = defaultdict(int)
    for entry in entries:
        totals[(entry.account, entry.currency)] += entry.amount_minor
    return {key: value for key, value in totals.items() if value}
