"""Sealing the journal into a hash chain, and verifying it (tamper evidence, R-REC-1).

`seal_journal` appends a tenant's unsealed transactions to its chain in id
order, a batch per transaction; two sealers racing for the tip collide on the
chain's unique sequence and the loser seals again. `verify_journal` recomputes
every link from what storage holds now and reports the first broken one (and
records it as a discrepancy).
"""

from __future__ import annotations

import functools

from attrs import frozen

from settlement_core.ids import external_id
from settlement_core.ledger import Seal, chain
from settlement_core.model import DiscrepancyKind
from settlement_core.services.context import Context, retrying
from settlement_core.services.reconcile import Finding, record


@frozen
class ChainReport:
    """How many links were checked, and the first broken one (None: the chain holds)."""

    tenant_id: str
    checked: int
    broken_at: Seal | None
    reason: str | None
    recorded: tuple[str, ...]


def seal_journal(ctx: Context, tenant_id: str) -> int:
    """Seal every unsealed transaction of a tenant; returns how many were sealed."""
    external_id(tenant_id, "tenant_id")
    total = 0
    while True:
        sealed = retrying(functools.partial(_seal_batch, ctx, tenant_id))
        if not sealed:
            return total
        total += sealed


def _seal_batch(ctx: Context, tenant_id: str) -> int:
    with ctx.uow() as uow:
        records = uow.ledger.unsealed(tenant_id, ctx.batch_size)
        tip = uow.ledger.last_seal(tenant_id)
        seals = []
        for record_ in records:
            tip = chain.seal(tip, record_)
            seals.append(tip)
        uow.ledger.add_seals(seals)
        uow.commit()
        return len(seals)


def verify_journal(ctx: Context, tenant_id: str, *, dry_run: bool = False) -> ChainReport:
    """Recompute a tenant's chain from storage; report (and record) the first broken link."""
    external_id(tenant_id, "tenant_id")
    checked = 0
    previous: Seal | None = None
    while True:
        with ctx.uow() as uow:
            links = uow.ledger.sealed(tenant_id, previous.seq if previous else 0, ctx.batch_size)
        if not links:
            return ChainReport(tenant_id, checked, None, None, ())
        for seal, stored in links:
            checked += 1
            reason = _broken(previous, seal, stored)
            if reason is not None:
                finding = Finding(
                    kind=DiscrepancyKind.CHAIN_BROKEN,
                    subjects=(seal.transaction_id, f"seq:{seal.seq}"),
                    detail=f"journal link {seal.seq} ({seal.transaction_id}): {reason}",
                )
                recorded = () if dry_run else record(ctx, tenant_id, [finding])
                return ChainReport(tenant_id, checked, seal, reason, recorded)
            previous = seal


def _broken(previous: Seal | None, seal: Seal, stored: chain.JournalRecord | None) -> str | None:
    expected_prev = chain.GENESIS if previous is None else previous.hash
    expected_seq = 1 if previous is None else previous.seq + 1
    if seal.seq != expected_seq:
        return f"sequence jumps from {expected_seq - 1} to {seal.seq}"
    if seal.prev_hash != expected_prev:
        return "it does not follow the link before it"
    if stored is None:
        return "the sealed transaction is gone"
    if chain.link(seal.prev_hash, stored) != seal.hash:
        return "the transaction changed after it was sealed"
    return None
