"""Delivering stored events to the host's bus (R-MON-1)."""

from __future__ import annotations

from settlement_core.ports import EventPublisher
from settlement_core.services.context import Context


def publish_pending(ctx: Context, publisher: EventPublisher, limit: int = 1000) -> int:
    """Publish outbox messages in order and mark them sent; at least once.

    A publisher that raises leaves its batch pending for the next call, so a
    message may be delivered twice: consumers dedupe by message id.
    """
    sent = 0
    while True:
        with ctx.uow() as uow:
            batch = uow.outbox.pending(limit)
        if not batch:
            return sent
        publisher.publish(batch)
        with ctx.uow() as uow:
            uow.outbox.mark_sent([m.id for m in batch])
            uow.commit()
        sent += len(batch)
