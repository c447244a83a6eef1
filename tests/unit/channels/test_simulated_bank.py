"""The simulated bank: idempotent execution, seeded fates, lost answers, returns, callbacks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from settlement_adapters.channels.policy import FailurePolicy
from settlement_adapters.channels.report import read_report, write_report
from settlement_adapters.channels.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from settlement_adapters.channels.simulated import (
    KEY_REUSED_CODE,
    PERMANENT_FATE_CODES,
    RETRYABLE_FATE_CODES,
    RETURN_CODE,
    SimulatedBank,
)
from settlement_core.errors import (
    BadSignature,
    CallbackRejected,
    InvalidAmount,
    InvalidIdentifier,
    InvalidTimestamp,
    StaleCallback,
    ValidationError,
)
from settlement_core.ports import ChannelResult, Outcome, PayoutInstruction
from settlement_core.testing.fakes import ManualClock

SECRET = b"whsec-simulated"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATENCY = timedelta(minutes=30)
TICK = timedelta(microseconds=1)
KEYS = [f"p-{i:03d}.1" for i in range(40)]
RATES = (
    "failure_rate",
    "permanent_failure_rate",
    "timeout_rate",
    "return_rate",
    "duplicate_rate",
    "lost_request_share",
)

Callback = tuple[bytes, dict[str, str]]


def instruction(key: str = "p-001.1", **changes: Any) -> PayoutInstruction:
    """A valid payout instruction for `key`, with `changes` applied."""
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "tenant_id": "t-1",
        "payout_id": key.rsplit(".", 1)[0],
        "account_id": "acc-1",
        "method_ref": "iban-1",
        "amount_minor": 1250,
        "currency": "EUR",
    }
    fields.update(changes)
    return PayoutInstruction(**fields)


def make_bank(clock: ManualClock, **options: Any) -> SimulatedBank:
    """A simulated bank on `clock` with the test secret and `options`."""
    return SimulatedBank(secret=SECRET, clock=clock, **options)


def submit_all(bank: SimulatedBank, keys: Iterable[str]) -> dict[str, ChannelResult]:
    """Submit one instruction per key, returning the answers by key."""
    return {key: bank.submit(instruction(key)) for key in keys}


def fates(bank: SimulatedBank, keys: Iterable[str]) -> dict[str, tuple[Outcome, str | None, bool]]:
    """(outcome, code, retryable) of each key's status, as of the bank's clock."""
    answers = {key: bank.status(key) for key in keys}
    return {key: (a.outcome, a.code, a.retryable) for key, a in answers.items()}


def key_and_outcome(callback: Callback) -> tuple[str, str]:
    """The idempotency key and outcome a callback body carries."""
    data = json.loads(callback[0])
    return data["idempotency_key"], data["outcome"]


@pytest.fixture
def clock() -> ManualClock:
    """A clock standing at T0."""
    return ManualClock(T0)


@pytest.fixture
def bank(clock: ManualClock) -> SimulatedBank:
    """A well-behaved bank: every payout is paid after LATENCY."""
    return make_bank(clock)


class TestSubmit:
    """Each idempotency key is executed at most once."""

    def test_first_submission_is_accepted_and_executed(self, bank: SimulatedBank) -> None:
        """A new payout is ACCEPTED with a provider reference and executed once."""
        result = bank.submit(instruction())
        assert result.outcome is Outcome.ACCEPTED
        assert result.idempotency_key == "p-001.1"
        assert result.provider_ref == "simulated-00000001"
        assert result.code is None
        assert result.retryable is False
        assert bank.times_executed("p-001.1") == 1

    def test_resubmission_returns_the_current_stage_without_executing_again(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Sending the same instruction again answers as status would, and pays nothing more."""
        first = bank.submit(instruction())
        again = bank.submit(instruction())
        assert again == first
        clock.advance(LATENCY)
        paid = bank.submit(instruction())
        assert paid.outcome is Outcome.PAID
        assert paid.provider_ref == first.provider_ref
        assert paid == bank.status("p-001.1")
        assert bank.times_executed("p-001.1") == 1

    def test_same_key_for_another_payout_is_refused(self, bank: SimulatedBank) -> None:
        """A reused key with different content is a permanent failure; the first payout stands."""
        bank.submit(instruction())
        reused = bank.submit(instruction(amount_minor=9999))
        assert reused.outcome is Outcome.FAILED
        assert reused.code == KEY_REUSED_CODE
        assert reused.retryable is False
        assert bank.times_executed("p-001.1") == 1
        (row,) = bank.report_rows()
        assert row.amount_minor == 1250

    @pytest.mark.parametrize(
        "change",
        [{"tenant_id": "t-2"}, {"account_id": "acc-2"}, {"method_ref": None}, {"currency": "USD"}],
    )
    def test_any_changed_field_counts_as_another_payout(
        self, bank: SimulatedBank, change: dict[str, Any]
    ) -> None:
        """Every field of the instruction is compared, not just the amount."""
        bank.submit(instruction())
        assert bank.submit(instruction(**change)).code == KEY_REUSED_CODE

    def test_each_key_gets_its_own_provider_reference(self, bank: SimulatedBank) -> None:
        """Two payouts are two executions with distinct references."""
        first = bank.submit(instruction("p-001.1"))
        second = bank.submit(instruction("p-002.1"))
        assert first.provider_ref != second.provider_ref
        assert bank.times_executed("p-001.1") == bank.times_executed("p-002.1") == 1

    def test_name_prefixes_provider_references(self, clock: ManualClock) -> None:
        """The bank's name routes payouts and prefixes its references."""
        named = make_bank(clock, name="acme")
        assert named.name == "acme"
        assert named.submit(instruction()).provider_ref == "acme-00000001"

    def test_default_name(self, bank: SimulatedBank) -> None:
        """Without a name the bank is called 'simulated'."""
        assert bank.name == "simulated"


class TestStatus:
    """status() reports each submission's stage as of the clock."""

    def test_accepted_until_the_latency_passes_then_paid(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """The payout is in flight for exactly LATENCY, then paid."""
        submitted = bank.submit(instruction())
        assert bank.status("p-001.1").outcome is Outcome.ACCEPTED
        clock.advance(LATENCY - TICK)
        assert bank.status("p-001.1").outcome is Outcome.ACCEPTED
        clock.advance(TICK)
        paid = bank.status("p-001.1")
        assert paid.outcome is Outcome.PAID
        assert paid.code is None and paid.retryable is False
        assert paid.provider_ref == submitted.provider_ref

    def test_latency_is_configurable(self, clock: ManualClock) -> None:
        """A slower bank keeps the payout accepted for longer."""
        slow = make_bank(clock, latency=timedelta(hours=2))
        slow.submit(instruction())
        clock.advance(timedelta(hours=1))
        assert slow.status("p-001.1").outcome is Outcome.ACCEPTED
        clock.advance(timedelta(hours=1))
        assert slow.status("p-001.1").outcome is Outcome.PAID

    def test_zero_latency_pays_at_once(self, clock: ManualClock) -> None:
        """With no latency, the payout is paid as soon as it is accepted."""
        instant = make_bank(clock, latency=timedelta(0))
        assert instant.submit(instruction()).outcome is Outcome.ACCEPTED
        assert instant.status("p-001.1").outcome is Outcome.PAID

    def test_unknown_key_is_not_found(self, bank: SimulatedBank) -> None:
        """A key the bank never received is NOT_FOUND, and was never executed."""
        bank.submit(instruction("p-001.1"))
        result = bank.status("p-999.1")
        assert result.outcome is Outcome.NOT_FOUND
        assert result.idempotency_key == "p-999.1"
        assert bank.times_executed("p-999.1") == 0

    @pytest.mark.parametrize("key", ["", None, 7])
    def test_status_needs_a_key(self, bank: SimulatedBank, key: object) -> None:
        """An empty or non-string key is refused."""
        with pytest.raises(InvalidIdentifier):
            bank.status(key)  # type: ignore[arg-type]


class TestOutage:
    """During an outage nothing is recorded: a safe retryable failure."""

    def test_submit_fails_retryably_and_records_nothing(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """The payout is refused as bank_unavailable, never executed, never reported."""
        bank.outage = True
        result = bank.submit(instruction())
        assert result.outcome is Outcome.FAILED
        assert result.retryable is True
        assert result.code == "bank_unavailable"
        assert bank.times_executed("p-001.1") == 0
        bank.outage = False
        assert bank.status("p-001.1").outcome is Outcome.NOT_FOUND
        assert bank.report_rows() == []
        clock.advance(LATENCY * 3)
        assert bank.deliver() == []

    def test_status_is_unknown_during_an_outage(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """A known payout cannot be vouched for while the bank is down."""
        bank.submit(instruction())
        clock.advance(LATENCY)
        bank.outage = True
        assert bank.status("p-001.1").outcome is Outcome.UNKNOWN
        assert bank.status("p-999.1").outcome is Outcome.UNKNOWN
        bank.outage = False
        assert bank.status("p-001.1").outcome is Outcome.PAID

    def test_resubmission_after_the_outage_executes_once(self, bank: SimulatedBank) -> None:
        """Once the bank is back, the refused payout goes through normally."""
        bank.outage = True
        bank.submit(instruction())
        bank.outage = False
        assert bank.submit(instruction()).outcome is Outcome.ACCEPTED
        assert bank.times_executed("p-001.1") == 1


class TestFailures:
    """Seeded failures carry codes the policy classifies."""

    def test_failure_rate_one_fails_every_payout_retryably(self, clock: ManualClock) -> None:
        """Every payout is accepted, then fails with a retryable code."""
        failing = make_bank(clock, failure_rate=1.0)
        answers = submit_all(failing, KEYS)
        assert {a.outcome for a in answers.values()} == {Outcome.ACCEPTED}
        clock.advance(LATENCY)
        results = [failing.status(key) for key in KEYS]
        assert {r.outcome for r in results} == {Outcome.FAILED}
        assert all(r.retryable for r in results)
        assert {r.code for r in results} == set(RETRYABLE_FATE_CODES)

    def test_permanent_failure_rate_one_fails_every_payout_for_good(
        self, clock: ManualClock
    ) -> None:
        """Every payout fails with a permanent code, never retryable."""
        failing = make_bank(clock, permanent_failure_rate=1.0)
        submit_all(failing, KEYS)
        clock.advance(LATENCY)
        results = [failing.status(key) for key in KEYS]
        assert {r.outcome for r in results} == {Outcome.FAILED}
        assert not any(r.retryable for r in results)
        assert {r.code for r in results} == set(PERMANENT_FATE_CODES)

    def test_split_rates_give_both_kinds_of_failure(self, clock: ManualClock) -> None:
        """Half permanent and half retryable: every payout fails, each kind occurs."""
        failing = make_bank(clock, failure_rate=0.5, permanent_failure_rate=0.5)
        submit_all(failing, KEYS)
        clock.advance(LATENCY)
        results = [failing.status(key) for key in KEYS]
        assert {r.outcome for r in results} == {Outcome.FAILED}
        assert {r.retryable for r in results} == {True, False}
        for result in results:
            expected = RETRYABLE_FATE_CODES if result.retryable else PERMANENT_FATE_CODES
            assert result.code in expected

    def test_no_failure_rate_pays_everything(self, bank: SimulatedBank, clock: ManualClock) -> None:
        """The default bank pays every payout."""
        submit_all(bank, KEYS)
        clock.advance(LATENCY)
        assert {bank.status(key).outcome for key in KEYS} == {Outcome.PAID}

    def test_the_adapter_policy_decides_retryability(self, clock: ManualClock) -> None:
        """With a policy listing the transient codes as permanent, nothing is retryable."""
        strict = FailurePolicy(permanent=frozenset(RETRYABLE_FATE_CODES))
        failing = make_bank(clock, failure_rate=1.0, policy=strict)
        submit_all(failing, KEYS[:10])
        clock.advance(LATENCY)
        results = [failing.status(key) for key in KEYS[:10]]
        assert {r.outcome for r in results} == {Outcome.FAILED}
        assert not any(r.retryable for r in results)

    def test_a_failed_payout_is_never_returned(self, clock: ManualClock) -> None:
        """Returns only happen to paid payouts."""
        failing = make_bank(clock, failure_rate=1.0, return_rate=1.0)
        submit_all(failing, KEYS[:10])
        clock.advance(LATENCY * 5)
        assert {failing.status(key).outcome for key in KEYS[:10]} == {Outcome.FAILED}

    def test_resubmitting_a_failed_payout_does_not_execute_it_again(
        self, clock: ManualClock
    ) -> None:
        """A failure is that key's final answer; a retry needs a new key."""
        failing = make_bank(clock, failure_rate=1.0)
        failing.submit(instruction())
        clock.advance(LATENCY)
        assert failing.submit(instruction()).outcome is Outcome.FAILED
        assert failing.times_executed("p-001.1") == 1


class TestLostAnswers:
    """A lost answer is UNKNOWN; the bank may or may not have the payout."""

    def test_both_kinds_of_lost_answer_happen(self, clock: ManualClock) -> None:
        """With timeout_rate=1 every answer is lost; some payouts arrived, others did not."""
        lossy = make_bank(clock, timeout_rate=1.0)
        answers = submit_all(lossy, KEYS)
        assert {a.outcome for a in answers.values()} == {Outcome.UNKNOWN}
        arrived = [k for k in KEYS if lossy.status(k).outcome is Outcome.ACCEPTED]
        missing = [k for k in KEYS if lossy.status(k).outcome is Outcome.NOT_FOUND]
        assert arrived and missing
        assert len(arrived) + len(missing) == len(KEYS)
        assert all(lossy.times_executed(k) == 1 for k in arrived)
        assert all(lossy.times_executed(k) == 0 for k in missing)
        clock.advance(LATENCY)
        assert {lossy.status(k).outcome for k in arrived} == {Outcome.PAID}
        assert {lossy.status(k).outcome for k in missing} == {Outcome.NOT_FOUND}

    def test_resubmitting_a_received_payout_does_not_execute_it_again(
        self, clock: ManualClock
    ) -> None:
        """After a lost answer for a payout the bank has, a resubmission just reports it."""
        lossy = make_bank(clock, timeout_rate=1.0)
        submit_all(lossy, KEYS)
        key = next(k for k in KEYS if lossy.times_executed(k) == 1)
        assert lossy.submit(instruction(key)).outcome is Outcome.ACCEPTED
        clock.advance(LATENCY)
        assert lossy.submit(instruction(key)).outcome is Outcome.PAID
        assert lossy.times_executed(key) == 1

    def test_a_lost_request_may_get_through_when_sent_again(self, clock: ManualClock) -> None:
        """Each resubmission draws anew; once received, the payout is executed exactly once."""
        lossy = make_bank(clock, timeout_rate=1.0)
        submit_all(lossy, KEYS)
        key = next(k for k in KEYS if lossy.times_executed(k) == 0)
        for _ in range(60):
            if lossy.status(key).outcome is not Outcome.NOT_FOUND:
                break
            assert lossy.submit(instruction(key)).outcome is Outcome.UNKNOWN
        assert lossy.status(key).outcome is Outcome.ACCEPTED
        assert lossy.times_executed(key) == 1
        assert lossy.submit(instruction(key)).outcome is Outcome.ACCEPTED
        assert lossy.times_executed(key) == 1

    @pytest.mark.parametrize(("share", "arrived"), [(1.0, 0), (0.0, len(KEYS))])
    def test_lost_request_share_decides_how_many_arrived(
        self, clock: ManualClock, share: float, arrived: int
    ) -> None:
        """A share of 1 means no lost request reached the bank; 0 means all of them did."""
        lossy = make_bank(clock, timeout_rate=1.0, lost_request_share=share)
        answers = submit_all(lossy, KEYS)
        assert {a.outcome for a in answers.values()} == {Outcome.UNKNOWN}
        assert sum(lossy.times_executed(k) for k in KEYS) == arrived
        expected = Outcome.NOT_FOUND if arrived == 0 else Outcome.ACCEPTED
        assert {lossy.status(k).outcome for k in KEYS} == {expected}

    def test_no_timeouts_means_no_unknown_answers(self, bank: SimulatedBank) -> None:
        """With timeout_rate=0 every submission gets a real answer."""
        answers = submit_all(bank, KEYS)
        assert Outcome.UNKNOWN not in {a.outcome for a in answers.values()}


class TestAdjustableRates:
    """Rates may be changed between calls; new submissions follow the new rates."""

    def test_failures_can_be_switched_on_later(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Payouts received before the change are paid, those after it fail."""
        bank.submit(instruction("p-001.1"))
        bank.failure_rate = 1.0
        bank.submit(instruction("p-002.1"))
        clock.advance(LATENCY)
        assert bank.status("p-001.1").outcome is Outcome.PAID
        assert bank.status("p-002.1").outcome is Outcome.FAILED

    def test_timeouts_can_be_switched_on_and_off(self, bank: SimulatedBank) -> None:
        """With timeout_rate raised every answer is lost; lowered again, answers return."""
        bank.timeout_rate = 1.0
        assert bank.submit(instruction("p-001.1")).outcome is Outcome.UNKNOWN
        bank.timeout_rate = 0.0
        assert bank.submit(instruction("p-002.1")).outcome is Outcome.ACCEPTED

    def test_duplicates_can_be_switched_on_later(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Raising duplicate_rate affects the next delivery."""
        submit_all(bank, KEYS[:3])
        clock.advance(LATENCY)
        bank.duplicate_rate = 1.0
        assert len(bank.deliver()) == 6


class TestReturns:
    """A returned payout was paid, then sent back after a second latency."""

    def test_paid_then_returned(self, clock: ManualClock) -> None:
        """PAID after one latency, RETURNED with the return code after two."""
        returning = make_bank(clock, return_rate=1.0)
        returning.submit(instruction())
        clock.advance(LATENCY)
        assert returning.status("p-001.1").outcome is Outcome.PAID
        clock.advance(LATENCY - TICK)
        assert returning.status("p-001.1").outcome is Outcome.PAID
        clock.advance(TICK)
        returned = returning.status("p-001.1")
        assert returned.outcome is Outcome.RETURNED
        assert returned.code == RETURN_CODE
        assert returned.retryable is False
        assert returning.submit(instruction()) == returned
        assert returning.times_executed("p-001.1") == 1

    def test_return_rate_zero_never_returns(self, bank: SimulatedBank, clock: ManualClock) -> None:
        """Without returns, paid stays paid."""
        submit_all(bank, KEYS)
        clock.advance(LATENCY * 10)
        assert {bank.status(k).outcome for k in KEYS} == {Outcome.PAID}


class TestDeterminism:
    """Fates depend on (seed, key) alone."""

    OPTIONS: dict[str, Any] = {  # noqa: RUF012
        "failure_rate": 0.3,
        "permanent_failure_rate": 0.2,
        "timeout_rate": 0.3,
        "return_rate": 0.3,
    }

    def run(self, clock: ManualClock, seed: int, keys: list[str]) -> SimulatedBank:
        """A bank with OPTIONS and `seed` that received `keys` in that order."""
        bank = make_bank(clock, seed=seed, **self.OPTIONS)
        submit_all(bank, keys)
        return bank

    def test_submission_order_does_not_matter(self, clock: ManualClock) -> None:
        """Two banks with one seed give every key the same answers, whatever the order."""
        forward = make_bank(clock, seed=7, **self.OPTIONS)
        backward = make_bank(clock, seed=7, **self.OPTIONS)
        first = submit_all(forward, KEYS)
        second = submit_all(backward, reversed(KEYS))
        for key in KEYS:
            assert first[key].outcome is second[key].outcome
        clock.advance(LATENCY)
        assert fates(forward, KEYS) == fates(backward, KEYS)
        clock.advance(LATENCY)
        final = fates(forward, KEYS)
        assert final == fates(backward, KEYS)
        assert {key: forward.times_executed(key) for key in KEYS} == {
            key: backward.times_executed(key) for key in KEYS
        }
        # The mix is varied enough for the comparison to mean something.
        assert {outcome for outcome, _, _ in final.values()} == {
            Outcome.PAID,
            Outcome.FAILED,
            Outcome.RETURNED,
            Outcome.NOT_FOUND,
        }

    def test_another_seed_gives_other_fates(self, clock: ManualClock) -> None:
        """Changing the seed changes which payouts fail, return or get lost."""
        one = self.run(clock, 7, KEYS)
        other = self.run(clock, 8, KEYS)
        clock.advance(LATENCY * 2)
        assert fates(one, KEYS) != fates(other, KEYS)

    def test_another_seed_fails_other_payouts(self, clock: ManualClock) -> None:
        """With failures as the only fault, the seed alone decides which payouts fail."""
        one = make_bank(clock, seed=7, failure_rate=0.5)
        other = make_bank(clock, seed=8, failure_rate=0.5)
        submit_all(one, KEYS)
        submit_all(other, KEYS)
        clock.advance(LATENCY)
        failed_one = {k for k in KEYS if one.status(k).outcome is Outcome.FAILED}
        failed_other = {k for k in KEYS if other.status(k).outcome is Outcome.FAILED}
        assert failed_one and failed_other
        assert failed_one != failed_other

    def test_one_rate_does_not_shift_another(self, clock: ManualClock) -> None:
        """Adding returns leaves the set of failed payouts exactly as it was."""
        plain = make_bank(clock, seed=3, failure_rate=0.5)
        returning = make_bank(clock, seed=3, failure_rate=0.5, return_rate=0.5)
        submit_all(plain, KEYS)
        submit_all(returning, KEYS)
        clock.advance(LATENCY * 2)
        failed = {k for k in KEYS if plain.status(k).outcome is Outcome.FAILED}
        assert failed == {k for k in KEYS if returning.status(k).outcome is Outcome.FAILED}
        assert 0 < len(failed) < len(KEYS)


class TestDeliver:
    """Callbacks are signed, due by the clock, and delivered once each (unless duplicated)."""

    def test_nothing_is_due_before_the_latency(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """An accepted payout sends no callback yet."""
        submit_all(bank, KEYS[:5])
        assert bank.deliver() == []
        clock.advance(LATENCY - TICK)
        assert bank.deliver() == []

    def test_every_callback_parses_back_to_the_status(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Each due callback verifies under the bank's secret and reports its status."""
        submit_all(bank, KEYS[:5])
        now = clock.advance(LATENCY)
        callbacks = bank.deliver()
        assert len(callbacks) == 5
        seen = []
        for body, headers in callbacks:
            assert {TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER} <= set(headers)
            notice = bank.parse_callback(body, headers, now)
            assert notice.sent_at == now
            assert notice.nonce == headers[NONCE_HEADER]
            assert notice.result.outcome is Outcome.PAID
            assert notice.result == bank.status(notice.result.idempotency_key)
            seen.append(notice.result.idempotency_key)
        assert sorted(seen) == KEYS[:5]

    def test_failure_callbacks_carry_the_failure(self, clock: ManualClock) -> None:
        """A failed payout's callback reports the code and retryability."""
        failing = make_bank(clock, failure_rate=1.0)
        failing.submit(instruction())
        now = clock.advance(LATENCY)
        ((body, headers),) = failing.deliver()
        result = failing.parse_callback(body, headers, now).result
        assert result.outcome is Outcome.FAILED
        assert result.retryable is True
        assert result.code in RETRYABLE_FATE_CODES
        assert result == failing.status("p-001.1")

    def test_a_return_sends_a_second_callback(self, clock: ManualClock) -> None:
        """A returned payout reports PAID, then RETURNED one latency later."""
        returning = make_bank(clock, return_rate=1.0)
        returning.submit(instruction())
        first_at = clock.advance(LATENCY)
        ((body, headers),) = returning.deliver()
        assert returning.parse_callback(body, headers, first_at).result.outcome is Outcome.PAID
        second_at = clock.advance(LATENCY)
        ((body, headers),) = returning.deliver()
        returned = returning.parse_callback(body, headers, second_at).result
        assert returned.outcome is Outcome.RETURNED
        assert returned.code == RETURN_CODE
        assert returned.retryable is False

    def test_late_delivery_sends_every_stage_in_order(self, clock: ManualClock) -> None:
        """Delivering after the return sends the PAID and the RETURNED callbacks, in order."""
        returning = make_bank(clock, return_rate=1.0)
        returning.submit(instruction())
        clock.advance(LATENCY * 3)
        stages = [key_and_outcome(c)[1] for c in returning.deliver()]
        assert stages == ["paid", "returned"]

    def test_a_callback_is_delivered_only_once(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Successive deliveries send only what became due in between."""
        bank.submit(instruction("p-001.1"))
        clock.advance(timedelta(minutes=10))
        bank.submit(instruction("p-002.1"))
        clock.advance(LATENCY - timedelta(minutes=10))
        assert [key_and_outcome(c)[0] for c in bank.deliver()] == ["p-001.1"]
        assert bank.deliver() == []
        clock.advance(timedelta(minutes=10))
        assert [key_and_outcome(c)[0] for c in bank.deliver()] == ["p-002.1"]
        clock.advance(LATENCY * 10)
        assert bank.deliver() == []

    def test_an_explicit_now_is_used_for_due_and_signature(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """deliver(now) delivers what is due at `now` and signs it as sent then."""
        bank.submit(instruction())
        later = T0 + LATENCY
        ((body, headers),) = bank.deliver(later)
        assert bank.parse_callback(body, headers, later).sent_at == later

    def test_a_naive_now_is_refused(self, bank: SimulatedBank) -> None:
        """deliver needs an aware instant."""
        with pytest.raises(InvalidTimestamp):
            bank.deliver(datetime(2024, 5, 1, 13, 0))

    def test_lost_requests_send_no_callbacks(self, clock: ManualClock) -> None:
        """Only payouts the bank received call back."""
        lossy = make_bank(clock, timeout_rate=1.0)
        submit_all(lossy, KEYS)
        clock.advance(LATENCY)
        received = sorted(k for k in KEYS if lossy.times_executed(k) == 1)
        assert sorted(key_and_outcome(c)[0] for c in lossy.deliver()) == received

    def test_duplicate_rate_one_sends_everything_twice(self, clock: ManualClock) -> None:
        """Every callback comes twice, same body, distinct nonces, both valid."""
        noisy = make_bank(clock, duplicate_rate=1.0)
        submit_all(noisy, KEYS[:10])
        now = clock.advance(LATENCY)
        callbacks = noisy.deliver()
        assert len(callbacks) == 20
        assert set(Counter(body for body, _ in callbacks).values()) == {2}
        assert len({headers[NONCE_HEADER] for _, headers in callbacks}) == 20
        for body, headers in callbacks:
            assert noisy.parse_callback(body, headers, now).result.outcome is Outcome.PAID

    def test_no_duplicates_by_default(self, bank: SimulatedBank, clock: ManualClock) -> None:
        """With duplicate_rate=0 each callback comes once."""
        submit_all(bank, KEYS)
        clock.advance(LATENCY)
        bodies = [body for body, _ in bank.deliver()]
        assert len(bodies) == len(set(bodies)) == len(KEYS)

    def test_reorder_keeps_the_same_callbacks(self, clock: ManualClock) -> None:
        """Reordering shuffles the batch but neither drops nor adds a callback."""
        ordered = make_bank(clock, seed=5, return_rate=0.5, duplicate_rate=0.3)
        shuffled = make_bank(clock, seed=5, return_rate=0.5, duplicate_rate=0.3, reorder=True)
        submit_all(ordered, KEYS)
        submit_all(shuffled, KEYS)
        clock.advance(LATENCY * 2)
        plain = [body for body, _ in ordered.deliver()]
        mixed = [body for body, _ in shuffled.deliver()]
        assert Counter(mixed) == Counter(plain)
        assert len(plain) > len(KEYS)
        assert mixed != plain

    def test_without_reorder_callbacks_come_in_due_order(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Callbacks are sent in the order they became due."""
        for key in KEYS[:10]:
            bank.submit(instruction(key))
            clock.advance(timedelta(minutes=1))
        clock.advance(LATENCY)
        assert [key_and_outcome(c)[0] for c in bank.deliver()] == KEYS[:10]


class TestParseCallback:
    """Only authentic, fresh, well-formed callbacks are accepted."""

    def delivered(self, bank: SimulatedBank, clock: ManualClock) -> tuple[Callback, datetime]:
        """One PAID callback for p-001.1 and the time it was sent."""
        bank.submit(instruction())
        now = clock.advance(LATENCY)
        (callback,) = bank.deliver()
        return callback, now

    def test_tampered_body_is_a_bad_signature(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Changing the amount in the body breaks the signature."""
        (body, headers), now = self.delivered(bank, clock)
        tampered = body.replace(b'"amount_minor":1250', b'"amount_minor":9250')
        assert tampered != body
        with pytest.raises(BadSignature):
            bank.parse_callback(tampered, headers, now)

    def test_changed_outcome_is_a_bad_signature(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Turning a paid callback into a failed one is detected."""
        (body, headers), now = self.delivered(bank, clock)
        tampered = body.replace(b'"outcome":"paid"', b'"outcome":"failed"')
        assert tampered != body
        with pytest.raises(BadSignature):
            bank.parse_callback(tampered, headers, now)

    def test_another_banks_callback_is_a_bad_signature(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """A bank with another secret rejects this bank's callbacks."""
        (body, headers), now = self.delivered(bank, clock)
        other = SimulatedBank(secret=b"another-secret", clock=clock)
        with pytest.raises(BadSignature):
            other.parse_callback(body, headers, now)

    @pytest.mark.parametrize(
        "delay", [timedelta(minutes=5, seconds=1), timedelta(hours=1), timedelta(days=3)]
    )
    def test_a_late_parse_is_stale(
        self, bank: SimulatedBank, clock: ManualClock, delay: timedelta
    ) -> None:
        """A callback parsed long after it was sent is refused as stale."""
        (body, headers), now = self.delivered(bank, clock)
        with pytest.raises(StaleCallback):
            bank.parse_callback(body, headers, now + delay)

    def test_a_parse_within_the_window_is_accepted(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """Five minutes later is still within the window."""
        (body, headers), now = self.delivered(bank, clock)
        later = now + timedelta(minutes=5)
        assert bank.parse_callback(body, headers, later).result.outcome is Outcome.PAID

    @pytest.mark.parametrize(
        ("body", "match"),
        [
            (b"not json", "not valid JSON"),
            (b"[1, 2]", "JSON object"),
            (b'{"outcome": "paid", "retryable": false}', "idempotency_key"),
            (b'{"idempotency_key": "", "outcome": "paid", "retryable": false}', "idempotency"),
            (b'{"idempotency_key": "k.1", "outcome": "accepted", "retryable": false}', "outcome"),
            (b'{"idempotency_key": "k.1", "outcome": "not_found", "retryable": false}', "outcome"),
            (b'{"idempotency_key": "k.1", "outcome": "paid"}', "retryable"),
            (b'{"idempotency_key": "k.1", "outcome": "paid", "retryable": "no"}', "retryable"),
            (
                b'{"idempotency_key": "k.1", "outcome": "failed", "retryable": false, "code": 5}',
                "code",
            ),
            (
                b'{"idempotency_key": "k.1", "outcome": "paid", "retryable": false,'
                b' "provider_ref": []}',
                "provider_ref",
            ),
            (
                b'{"idempotency_key": "k.1", "outcome": "paid", "retryable": false,'
                b' "message": null}',
                "message",
            ),
        ],
    )
    def test_malformed_but_signed_bodies_are_rejected(
        self, bank: SimulatedBank, body: bytes, match: str
    ) -> None:
        """A correctly signed body that is not a valid callback is refused, not a crash."""
        headers = sign(SECRET, body, T0, "n-1")
        with pytest.raises(CallbackRejected, match=match) as caught:
            bank.parse_callback(body, headers, T0)
        assert not isinstance(caught.value, BadSignature | StaleCallback)

    @pytest.mark.parametrize(
        ("code", "flag", "expected"),
        [("account_closed", True, False), ("rate_limited", False, True), (None, True, False)],
    )
    def test_the_policy_not_the_flag_decides_retryability(
        self, bank: SimulatedBank, code: str | None, flag: bool, expected: bool
    ) -> None:
        """The provider's retryable flag is ignored in favour of the adapter's policy."""
        data = {"idempotency_key": "k.1", "outcome": "failed", "retryable": flag, "code": code}
        body = json.dumps(data).encode()
        result = bank.parse_callback(body, sign(SECRET, body, T0, "n-1"), T0).result
        assert result.outcome is Outcome.FAILED
        assert result.retryable is expected
        assert result.code == code

    def test_minimal_body_decodes_with_defaults(self, bank: SimulatedBank) -> None:
        """Only key, outcome and retryable are required; the rest default to empty."""
        body = b'{"idempotency_key": "k.1", "outcome": "returned", "retryable": false}'
        notice = bank.parse_callback(body, sign(SECRET, body, T0, "n-7"), T0)
        assert notice.nonce == "n-7"
        assert notice.result == ChannelResult(idempotency_key="k.1", outcome=Outcome.RETURNED)


class TestReportRows:
    """The bank's report reflects each submission as of the clock."""

    def test_rows_follow_the_clock(self, clock: ManualClock) -> None:
        """An in-flight payout is ACCEPTED, a settled one carries its settlement time."""
        returning = make_bank(clock, return_rate=1.0)
        returning.submit(instruction("p-001.1"))
        clock.advance(timedelta(minutes=10))
        returning.submit(instruction("p-002.1", amount_minor=700, currency="USD"))
        first, second = returning.report_rows()
        assert (first.status, second.status) == (Outcome.ACCEPTED, Outcome.ACCEPTED)
        assert first.settled_at is None and second.settled_at is None
        clock.set(T0 + LATENCY)
        first, second = returning.report_rows()
        assert first.status is Outcome.PAID and first.settled_at == T0 + LATENCY
        assert second.status is Outcome.ACCEPTED
        clock.set(T0 + LATENCY * 2)
        first, second = returning.report_rows()
        assert first.status is Outcome.RETURNED and first.settled_at == T0 + LATENCY * 2
        assert second.status is Outcome.PAID
        assert second.submitted_at == T0 + timedelta(minutes=10)
        assert (second.amount_minor, second.currency, second.payout_id) == (700, "USD", "p-002")
        assert second.provider_ref == "simulated-00000002"

    def test_failed_rows_settle_at_the_failure(self, clock: ManualClock) -> None:
        """A failed payout is reported FAILED with the time it failed."""
        failing = make_bank(clock, failure_rate=1.0)
        failing.submit(instruction())
        clock.advance(LATENCY * 3)
        (row,) = failing.report_rows()
        assert row.status is Outcome.FAILED
        assert row.settled_at == T0 + LATENCY

    def test_rows_are_sorted_by_submission(self, bank: SimulatedBank, clock: ManualClock) -> None:
        """Rows come in the order the bank received the payouts."""
        for key in reversed(KEYS[:5]):
            bank.submit(instruction(key))
            clock.advance(timedelta(minutes=1))
        assert [r.idempotency_key for r in bank.report_rows()] == list(reversed(KEYS[:5]))

    def test_since_and_until_select_a_half_open_window(
        self, bank: SimulatedBank, clock: ManualClock
    ) -> None:
        """since is inclusive, until exclusive, both by submission time."""
        for key in KEYS[:4]:
            bank.submit(instruction(key))
            clock.advance(timedelta(hours=1))
        start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=3)

        def keys(**window: datetime) -> list[str]:
            return [r.idempotency_key for r in bank.report_rows(**window)]

        assert keys(since=start, until=end) == KEYS[1:3]
        assert keys(since=start) == KEYS[1:4]
        assert keys(until=end) == KEYS[0:3]
        assert keys(until=T0) == []
        assert keys() == KEYS[:4]

    def test_naive_window_bounds_are_refused(self, bank: SimulatedBank) -> None:
        """A naive since or until is an InvalidTimestamp, not a TypeError."""
        bank.submit(instruction())
        with pytest.raises(InvalidTimestamp):
            bank.report_rows(since=datetime(2024, 5, 1))
        with pytest.raises(InvalidTimestamp):
            bank.report_rows(until=datetime(2024, 5, 2))

    def test_rows_survive_a_report_file(self, clock: ManualClock, tmp_path: Path) -> None:
        """The bank's rows written to CSV read back equal."""
        mixed = make_bank(clock, failure_rate=0.3, return_rate=0.3, seed=11)
        for key in KEYS:
            mixed.submit(instruction(key))
            clock.advance(timedelta(minutes=2))
        rows = mixed.report_rows()
        assert {r.status for r in rows} == {
            Outcome.ACCEPTED,
            Outcome.PAID,
            Outcome.FAILED,
            Outcome.RETURNED,
        }
        path = tmp_path / "report.csv"
        write_report(rows, path)
        assert read_report(path) == rows


class TestConstructor:
    """Impossible configurations are refused."""

    @pytest.mark.parametrize("rate", RATES)
    @pytest.mark.parametrize("value", [-0.01, 1.01, float("nan"), float("inf")])
    def test_rates_must_lie_between_zero_and_one(
        self, clock: ManualClock, rate: str, value: float
    ) -> None:
        """Each rate is a probability, named in the error."""
        with pytest.raises(ValidationError, match=rate):
            make_bank(clock, **{rate: value})

    @pytest.mark.parametrize("rate", RATES)
    @pytest.mark.parametrize("value", [0.0, 1.0])
    def test_rates_at_the_edges_are_accepted(
        self, clock: ManualClock, rate: str, value: float
    ) -> None:
        """0 and 1 are valid probabilities."""
        assert make_bank(clock, **{rate: value}).name == "simulated"

    def test_failure_rates_may_not_exceed_one_together(self, clock: ManualClock) -> None:
        """Retryable plus permanent failures cannot be more than certain."""
        with pytest.raises(ValidationError, match="exceeds 1"):
            make_bank(clock, failure_rate=0.6, permanent_failure_rate=0.5)

    def test_failure_rates_may_add_up_to_one(self, clock: ManualClock) -> None:
        """Exactly certain failure is allowed."""
        make_bank(clock, failure_rate=0.5, permanent_failure_rate=0.5)

    def test_negative_latency_is_refused(self, clock: ManualClock) -> None:
        """A payout cannot settle before it was sent."""
        with pytest.raises(ValidationError, match="latency"):
            make_bank(clock, latency=timedelta(seconds=-1))

    @pytest.mark.parametrize("secret", [b"", "text-secret", None])
    def test_secret_must_be_non_empty_bytes(self, clock: ManualClock, secret: object) -> None:
        """Callbacks cannot be signed without a real secret."""
        with pytest.raises(ValidationError, match="secret"):
            SimulatedBank(secret=secret, clock=clock)  # type: ignore[arg-type]

    def test_name_must_not_be_empty(self, clock: ManualClock) -> None:
        """Payouts are routed by name, so it cannot be empty."""
        with pytest.raises(InvalidIdentifier):
            make_bank(clock, name="")


class TestInstructionValidation:
    """Malformed instructions raise typed errors and are never executed."""

    @pytest.mark.parametrize("amount", [0, -5, 12.5, 1250.0, True, "1250"])
    def test_amount_must_be_a_positive_int(self, bank: SimulatedBank, amount: object) -> None:
        """Zero, negatives, floats, bools and strings are refused as InvalidAmount."""
        with pytest.raises(InvalidAmount):
            bank.submit(instruction(amount_minor=amount))
        assert bank.times_executed("p-001.1") == 0
        assert bank.status("p-001.1").outcome is Outcome.NOT_FOUND

    @pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "", "E1R", None])
    def test_currency_must_be_three_uppercase_letters(
        self, bank: SimulatedBank, currency: object
    ) -> None:
        """A malformed currency is an InvalidIdentifier."""
        with pytest.raises(InvalidIdentifier, match="currency"):
            bank.submit(instruction(currency=currency))
        assert bank.times_executed("p-001.1") == 0

    @pytest.mark.parametrize("field", ["idempotency_key", "payout_id"])
    @pytest.mark.parametrize("value", ["", None])
    def test_identifiers_must_be_non_empty(
        self, bank: SimulatedBank, field: str, value: object
    ) -> None:
        """An empty key or payout id is an InvalidIdentifier naming the field."""
        changes: dict[str, Any] = {field: value}
        with pytest.raises(InvalidIdentifier, match=field):
            bank.submit(instruction(**changes))
        assert bank.report_rows() == []

    def test_validation_comes_before_the_outage(self, bank: SimulatedBank) -> None:
        """A malformed instruction is refused even while the bank is down."""
        bank.outage = True
        with pytest.raises(InvalidAmount):
            bank.submit(instruction(amount_minor=0))
