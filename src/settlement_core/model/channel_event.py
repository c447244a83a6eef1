"""What a channel said about a payout, kept for audit, tracing and replay protection."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import frozen


class AnswerSource(enum.StrEnum):
    """How the answer reached us."""

    SUBMIT = "submit"
    POLL = "poll"
    CALLBACK = "callback"
    OPERATOR = "operator"


@frozen(kw_only=True)
class ChannelEvent:
    """One answer about one idempotency key; (channel, nonce) is unique for callbacks."""

    id: str
    tenant_id: str
    channel: str
    payout_id: str
    idempotency_key: str
    outcome: str
    source: AnswerSource
    received_at: datetime
    applied: bool
    code: str | None = None
    message: str = ""
    nonce: str | None = None
