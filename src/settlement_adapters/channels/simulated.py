"""A deterministic fake bank for demos and tests (R-REL-3, R-REL-4, R-SEC-1).

Each submission's fate (paid, failed, returned, answer lost) is drawn from an
rng seeded by (seed, idempotency key) alone, so the same payouts meet the same
fates whatever order they arrive in. Time only moves with the injected clock.
"""

from __future__ import annotations

import heapq
import json
import random
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from attrs import frozen

from settlement_adapters.channels.policy import SIMULATED_CODES, FailurePolicy
from settlement_adapters.channels.report import SettlementReportRow
from settlement_adapters.channels.signing import sign, verify
from settlement_core.errors import (
    CallbackRejected,
    InvalidAmount,
    InvalidIdentifier,
    ValidationError,
)
from settlement_core.ports import (
    CallbackNotice,
    ChannelResult,
    Clock,
    Outcome,
    PayoutInstruction,
)
from settlement_core.timestamps import require_aware

RETRYABLE_FATE_CODES = ("bank_unavailable", "insufficient_funds_at_bank", "rate_limited")
PERMANENT_FATE_CODES = ("account_closed", "invalid_account", "name_mismatch")
RETURN_CODE = "returned_by_receiving_bank"
KEY_REUSED_CODE = "idempotency_key_reused"
CALLBACK_OUTCOMES = frozenset({Outcome.PAID, Outcome.FAILED, Outcome.RETURNED})

_CURRENCY = re.compile(r"[A-Z]{3}")


@frozen
class _Fate:
    """What will become of a received submission."""

    outcome: Outcome  # PAID or FAILED
    code: str | None
    returned: bool


@frozen(kw_only=True)
class _Received:
    """A submission the bank has on record."""

    instruction: PayoutInstruction
    provider_ref: str
    submitted_at: datetime
    final_at: datetime
    returned_at: datetime | None
    fate: _Fate


class SimulatedBank:
    """A fake bank with seeded failures, lost answers, returns and messy callbacks.

    Rates are probabilities per submission (or per callback, for duplicates):
    `failure_rate` retryable failures, `permanent_failure_rate` permanent ones,
    `return_rate` paid payouts sent back after a second `latency`,
    `timeout_rate` submissions whose answer is lost; of those, a share
    `lost_request_share` never reached the bank at all (the rest were executed).
    `outage` refuses everything at once. Rates and `outage` may be changed
    between calls, as a test or demo needs. `nonces` makes callback nonces
    (random by default; a seeded source makes a run repeatable).
    """

    def __init__(
        self,
        *,
        name: str = "simulated",
        secret: bytes,
        clock: Clock,
        seed: int = 0,
        latency: timedelta = timedelta(minutes=30),
        failure_rate: float = 0.0,
        permanent_failure_rate: float = 0.0,
        timeout_rate: float = 0.0,
        return_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        lost_request_share: float = 0.5,
        policy: FailurePolicy = SIMULATED_CODES,
        nonces: Callable[[], str] | None = None,
    ) -> None:
        rates = {
            "lost_request_share": lost_request_share,
            "failure_rate": failure_rate,
            "permanent_failure_rate": permanent_failure_rate,
            "timeout_rate": timeout_rate,
            "return_rate": return_rate,
            "duplicate_rate": duplicate_rate,
        }
        for what, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValidationError(f"{what} must be between 0 and 1, got {rate!r}")
        if failure_rate + permanent_failure_rate > 1.0:
            raise ValidationError("failure_rate + permanent_failure_rate exceeds 1")
        if latency < timedelta(0):
            raise ValidationError(f"latency must not be negative, got {latency}")
        if not isinstance(secret, bytes) or not secret:
            raise ValidationError("secret must be non-empty bytes")
        if not name:
            raise InvalidIdentifier("a channel needs a name")
        self._name = name
        self._secret = secret
        self._clock = clock
        self._seed = seed
        self._latency = latency
        self.failure_rate = failure_rate
        self.permanent_failure_rate = permanent_failure_rate
        self.timeout_rate = timeout_rate
        self.return_rate = return_rate
        self.duplicate_rate = duplicate_rate
        self.reorder = reorder
        self.lost_request_share = lost_request_share
        # Random by default: a restarted bank must not repeat nonces its receiver has stored.
        self._nonces = nonces or (lambda: secrets.token_hex(16))
        self._policy = policy
        self.outage = False
        self._received: dict[str, _Received] = {}
        self._executions: Counter[str] = Counter()
        self._lost_attempts: Counter[str] = Counter()
        # Pending callbacks as (due, sequence, key, outcome); the sequence breaks ties.
        self._pending: list[tuple[datetime, int, str, Outcome]] = []
        self._sequence = 0
        self._deliveries = 0

    @property
    def name(self) -> str:
        """The name payouts are routed by."""
        return self._name

    def submit(self, instruction: PayoutInstruction) -> ChannelResult:
        """Take a payout once per idempotency key; a lost answer is UNKNOWN."""
        _check(instruction)
        key = instruction.idempotency_key
        if self.outage:
            # Nothing was recorded, so sending again is safe whatever the policy says.
            return _failed(key, "bank_unavailable", True, "the bank is unavailable")
        known = self._received.get(key)
        if known is not None:
            if known.instruction != instruction:
                return _failed(key, KEY_REUSED_CODE, False, "key was used for another payout")
            return self._result(known, self._stage_at(known, self._clock.now())[0])
        lost, arrived = self._answer_lost(key)
        if lost and not arrived:
            self._lost_attempts[key] += 1
            return _unknown(key)
        record = self._record(instruction)
        return _unknown(key) if lost else self._result(record, Outcome.ACCEPTED)

    def status(self, idempotency_key: str) -> ChannelResult:
        """The submission's outcome as of the clock; NOT_FOUND when never received."""
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise InvalidIdentifier("idempotency_key must be a non-empty string")
        if self.outage:
            return _unknown(idempotency_key)
        known = self._received.get(idempotency_key)
        if known is None:
            return ChannelResult(idempotency_key=idempotency_key, outcome=Outcome.NOT_FOUND)
        return self._result(known, self._stage_at(known, self._clock.now())[0])

    def deliver(self, now: datetime | None = None) -> list[tuple[bytes, dict[str, str]]]:
        """Every callback due since the last delivery, as (body, signed headers)."""
        at = require_aware(self._clock.now() if now is None else now, "now")
        due: list[tuple[str, Outcome]] = []
        while self._pending and self._pending[0][0] <= at:
            _, _, key, stage = heapq.heappop(self._pending)
            due.append((key, stage))
        rng = random.Random(f"deliver:{self._seed}:{self._deliveries}")
        self._deliveries += 1
        batch: list[tuple[str, Outcome]] = []
        for notice in due:
            batch.append(notice)
            if rng.random() < self.duplicate_rate:
                batch.append(notice)
        if self.reorder:
            rng.shuffle(batch)
        return [self._callback(self._received[key], stage, at) for key, stage in batch]

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackNotice:
        """Verify a callback's signature and time window, then decode its result."""
        sent_at, nonce = verify(self._secret, body, headers, now)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise CallbackRejected("callback body is not valid JSON") from None
        return CallbackNotice(nonce=nonce, sent_at=sent_at, result=self._decode(data))

    def report_rows(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[SettlementReportRow]:
        """The bank's record of submissions received in [since, until), as of the clock."""
        since = None if since is None else require_aware(since, "since")
        until = None if until is None else require_aware(until, "until")
        now = self._clock.now()
        rows = []
        for record in sorted(self._received.values(), key=lambda r: r.submitted_at):
            if since is not None and record.submitted_at < since:
                continue
            if until is not None and record.submitted_at >= until:
                continue
            stage, settled_at = self._stage_at(record, now)
            rows.append(
                SettlementReportRow(
                    idempotency_key=record.instruction.idempotency_key,
                    payout_id=record.instruction.payout_id,
                    amount_minor=record.instruction.amount_minor,
                    currency=record.instruction.currency,
                    status=stage,
                    submitted_at=record.submitted_at,
                    settled_at=settled_at,
                    provider_ref=record.provider_ref,
                )
            )
        return rows

    def times_executed(self, idempotency_key: str) -> int:
        """How often the bank executed this key; it must never exceed 1."""
        return self._executions[idempotency_key]

    def _answer_lost(self, key: str) -> tuple[bool, bool]:
        # Seeded per attempt so a resubmission after a lost request may get through.
        rng = random.Random(f"answer:{self._seed}:{self._lost_attempts[key]}:{key}")
        lost = rng.random() < self.timeout_rate
        arrived = rng.random() >= self.lost_request_share
        return lost, arrived

    def _fate(self, key: str) -> _Fate:
        # Always the same draws in the same order, so one rate never shifts another's fates.
        rng = random.Random(f"fate:{self._seed}:{key}")
        roll = rng.random()
        retryable_code = rng.choice(RETRYABLE_FATE_CODES)
        permanent_code = rng.choice(PERMANENT_FATE_CODES)
        returned = rng.random() < self.return_rate
        if roll < self.permanent_failure_rate:
            return _Fate(Outcome.FAILED, permanent_code, False)
        if roll < self.permanent_failure_rate + self.failure_rate:
            return _Fate(Outcome.FAILED, retryable_code, False)
        return _Fate(Outcome.PAID, None, returned)

    def _record(self, instruction: PayoutInstruction) -> _Received:
        now = self._clock.now()
        fate = self._fate(instruction.idempotency_key)
        final_at = now + self._latency
        record = _Received(
            instruction=instruction,
            provider_ref=f"{self._name}-{len(self._received) + 1:08d}",
            submitted_at=now,
            final_at=final_at,
            returned_at=final_at + self._latency if fate.returned else None,
            fate=fate,
        )
        key = instruction.idempotency_key
        self._received[key] = record
        self._executions[key] += 1
        self._schedule(final_at, key, fate.outcome)
        if record.returned_at is not None:
            self._schedule(record.returned_at, key, Outcome.RETURNED)
        return record

    def _schedule(self, due: datetime, key: str, stage: Outcome) -> None:
        heapq.heappush(self._pending, (due, self._sequence, key, stage))
        self._sequence += 1

    def _stage_at(self, record: _Received, now: datetime) -> tuple[Outcome, datetime | None]:
        if now < record.final_at:
            return Outcome.ACCEPTED, None
        if record.returned_at is not None and now >= record.returned_at:
            return Outcome.RETURNED, record.returned_at
        return record.fate.outcome, record.final_at

    def _result(self, record: _Received, stage: Outcome) -> ChannelResult:
        key = record.instruction.idempotency_key
        code = record.fate.code if stage is Outcome.FAILED else None
        if stage is Outcome.RETURNED:
            code = RETURN_CODE
        return ChannelResult(
            idempotency_key=key,
            outcome=stage,
            retryable=stage is Outcome.FAILED and self._policy.classify(code),
            code=code,
            message=f"simulated {stage}" + (f": {code}" if code else ""),
            provider_ref=record.provider_ref,
        )

    def _callback(
        self, record: _Received, stage: Outcome, now: datetime
    ) -> tuple[bytes, dict[str, str]]:
        result = self._result(record, stage)
        body = {
            "idempotency_key": result.idempotency_key,
            "outcome": result.outcome.value,
            "retryable": result.retryable,
            "code": result.code,
            "message": result.message,
            "provider_ref": result.provider_ref,
            "payout_id": record.instruction.payout_id,
            "amount_minor": record.instruction.amount_minor,
            "currency": record.instruction.currency,
        }
        encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        # A fresh nonce per delivery, as real providers re-sign every retry.
        return encoded, sign(self._secret, encoded, now, self._nonces())

    def _decode(self, data: object) -> ChannelResult:
        if not isinstance(data, dict):
            raise CallbackRejected("callback body must be a JSON object")
        key = data.get("idempotency_key")
        outcome = data.get("outcome")
        code = data.get("code")
        message = data.get("message", "")
        provider_ref = data.get("provider_ref")
        if not isinstance(key, str) or not key:
            raise CallbackRejected("callback has no idempotency_key")
        if outcome not in CALLBACK_OUTCOMES:
            raise CallbackRejected(f"callback outcome {outcome!r} is not one a callback reports")
        if not isinstance(data.get("retryable"), bool):
            raise CallbackRejected("callback field retryable must be true or false")
        for what, value in (("code", code), ("provider_ref", provider_ref)):
            if value is not None and not isinstance(value, str):
                raise CallbackRejected(f"callback field {what} must be a string or null")
        if not isinstance(message, str):
            raise CallbackRejected("callback field message must be a string")
        stage = Outcome(outcome)
        return ChannelResult(
            idempotency_key=key,
            outcome=stage,
            # The adapter's policy, not the provider's flag, decides what may be sent again.
            retryable=stage is Outcome.FAILED and self._policy.classify(code),
            code=code,
            message=message,
            provider_ref=provider_ref,
        )


def _check(instruction: PayoutInstruction) -> None:
    amount = instruction.amount_minor
    if type(amount) is not int or amount <= 0:
        raise InvalidAmount(f"amount_minor must be a positive int, got {amount!r}")
    currency = instruction.currency
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidIdentifier(f"currency must be 3 uppercase letters, got {currency!r}")
    for what in ("idempotency_key", "payout_id"):
        value = getattr(instruction, what)
        if not isinstance(value, str) or not value:
            raise InvalidIdentifier(f"{what} must be a non-empty string")


def _failed(key: str, code: str, retryable: bool, message: str) -> ChannelResult:
    return ChannelResult(
        idempotency_key=key,
        outcome=Outcome.FAILED,
        retryable=retryable,
        code=code,
        message=message,
    )


def _unknown(key: str) -> ChannelResult:
    return ChannelResult(
        idempotency_key=key, outcome=Outcome.UNKNOWN, message="no answer from the bank"
    )
