"""Tamper evidence for the journal: transactions chained by hash, per tenant.

A seal gives a posted transaction its place in its tenant's chain (`seq`) and a
hash over the previous link's hash and the transaction's canonical content.
Changing, removing or reordering anything sealed breaks the chain from that
link on, and recomputing it finds the first broken link. Sealing runs as a job
after posting, so the hot ingest path never waits on the chain's tip.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from attrs import frozen

GENESIS = "0" * 64


@frozen
class JournalRecord:
    """A posted transaction exactly as stored (not re-validated, so damage stays visible)."""

    id: str
    tenant_id: str
    kind: str
    reference: str
    occurred_at: datetime
    reverses: str | None
    entries: tuple[tuple[str, str, int], ...]  # (ledger account, currency, minor units)


@frozen
class Seal:
    """One link of a tenant's chain."""

    transaction_id: str
    tenant_id: str
    seq: int
    prev_hash: str
    hash: str


def canonical(record: JournalRecord) -> bytes:
    """The bytes a link hashes: every stored field, unambiguously separated."""
    at = record.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    head = [record.id, record.tenant_id, record.kind, record.reference, at, record.reverses or ""]
    legs = [f"{account}\x1e{currency}\x1e{amount}" for account, currency, amount in record.entries]
    return "\x1f".join([*head, *sorted(legs)]).encode()


def link(prev_hash: str, record: JournalRecord) -> str:
    """The hash of a link: sha256 over the previous hash and the record's canonical bytes."""
    return hashlib.sha256(prev_hash.encode() + b"\x1d" + canonical(record)).hexdigest()


def seal(previous: Seal | None, record: JournalRecord) -> Seal:
    """The seal that appends `record` after `previous` (None: the first link)."""
    prev_hash = GENESIS if previous is None else previous.hash
    seq = 1 if previous is None else previous.seq + 1
    return Seal(record.id, record.tenant_id, seq, prev_hash, link(prev_hash, record))
