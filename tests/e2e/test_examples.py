"""The integration examples work as documented, with no network: FastAPI, schedulers, Kafka."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from host_service import create_api
from kafka_outbox import KafkaPublisher
from scheduler import SCHEDULE, add_jobs, crontab

from settlement_adapters.bootstrap import in_memory
from settlement_adapters.channels import SimulatedBank
from settlement_core import (
    Cycle,
    OpenAccount,
    PayoutFilter,
    PayoutRule,
    PayoutStatus,
    RuleEngine,
    Settlement,
)
from settlement_core.testing.fakes import ManualClock, StaticFxRates
from settlement_core.testing.marketplace import START

TENANT = "acme"


def _market() -> tuple[Settlement, SimulatedBank, ManualClock]:
    clock = ManualClock(START)
    bank = SimulatedBank(name="bank", secret=b"s3cret", clock=clock, seed=1)
    rules = RuleEngine(default_rule_id="daily")
    rules.define(PayoutRule(rule_id="daily", cycle=Cycle.daily()))
    app = in_memory(rules, clock=clock, fx=StaticFxRates({}), channels=[bank])
    app.get_or_create_account(OpenAccount(tenant_id=TENANT, shop_id="books", payout_channel="bank"))
    return app, bank, clock


def _item(key: str, amount: object = "19.90") -> dict[str, object]:
    return {
        "tenant_id": TENANT,
        "shop_id": "books",
        "key": key,
        "order_id": key.split(":")[0],
        "kind": "sale",
        "amount": amount,
        "currency": "USD",
        "occurred_at": START.isoformat(),
    }


def test_host_service_books_items_once_and_applies_signed_callbacks_once() -> None:
    """Replays answer the first receipt, conflicts are 409, floats 422; callbacks pay, once."""
    app, bank, clock = _market()
    client = TestClient(create_api(app))
    first = client.post("/billing-items", json=_item("o-1:sale"))
    assert first.status_code == 200 and first.json()["replayed"] is False
    again = client.post("/billing-items", json=_item("o-1:sale"))
    assert again.json() == first.json() | {"replayed": True}
    assert client.post("/billing-items", json=_item("o-1:sale", "20.00")).status_code == 409
    assert client.post("/billing-items", json=_item("o-2:sale", 19.9)).status_code == 422
    assert client.post("/billing-items", json=_item("o-3:sale", "1.999")).status_code == 422
    unknown = _item("o-4:sale") | {"shop_id": "nobody"}
    assert client.post("/billing-items", json=unknown).status_code == 404

    clock.advance(timedelta(days=2))
    app.close_cycles(clock.now())
    app.create_payouts(clock.now())
    app.prepare_release(clock.now())
    report = app.operations_report(TENANT)
    app.record_funding(TENANT, "bank", report.positions[0].to_fund, "wire-1")
    app.release(TENANT, report.summaries[0].id)
    clock.advance(timedelta(hours=2))
    callbacks = bank.deliver()
    assert callbacks
    body, headers = callbacks[0]
    forged = client.post("/channels/bank/callbacks", content=body + b" ", headers=headers)
    assert forged.status_code == 401
    applied = client.post("/channels/bank/callbacks", content=body, headers=headers)
    assert applied.status_code == 200 and applied.json()["applied"] is True
    replay = client.post("/channels/bank/callbacks", content=body, headers=headers)
    assert replay.status_code == 401
    assert client.post("/channels/nobank/callbacks", content=body).status_code == 404
    paid = app.query_payouts(PayoutFilter(tenant_id=TENANT, status=PayoutStatus.PAID)).items
    assert [p.amount_minor for p in paid] == [1990]
    balance = client.get(f"/tenants/{TENANT}/shops/books/balance")
    assert balance.json() == {"pending": {}, "available": {}}


class _Sent:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def get(self, timeout: float | None = None) -> object:
        if self.fail:
            raise TimeoutError("the broker did not acknowledge")
        return None


class _Producer:
    """Records what a KafkaProducer would send; can be told the broker is down."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.records: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> _Sent:
        self.records.append((topic, key, value, headers or []))
        return _Sent(self.fail)

    def flush(self, timeout: float | None = None) -> None:
        return None


def test_kafka_publisher_sends_every_event_keyed_by_tenant_and_keeps_failed_batches() -> None:
    """A broker that does not acknowledge leaves the outbox pending; the next run sends it all."""
    app, _, _ = _market()
    down = _Producer(fail=True)
    with pytest.raises(TimeoutError):
        app.publish_pending(KafkaPublisher(down, "events"))
    up = _Producer()
    sent = app.publish_pending(KafkaPublisher(up, "events"))
    assert sent == len(up.records) >= 1
    assert app.publish_pending(KafkaPublisher(up, "events")) == 0
    topic, key, value, headers = up.records[0]
    assert (topic, key) == ("events", TENANT.encode())
    assert value is not None
    event = json.loads(value)
    assert dict(headers)["message-id"] == event["id"].encode()
    assert event["tenant_id"] == TENANT and event["name"]


def test_kafka_record_value_carries_no_float() -> None:
    """Amounts in events are integers of minor units or strings, never floats."""
    app, _, _ = _market()
    up = _Producer()
    client = TestClient(create_api(app))
    client.post("/billing-items", json=_item("o-9:sale", "0.10"))
    app.publish_pending(KafkaPublisher(up, "events"))

    def floats(value: object) -> Sequence[object]:
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return [value] if isinstance(value, float) else []

    values = [json.loads(v) for _, _, v, _ in up.records if v is not None]
    assert values and not [f for v in values for f in floats(v)]


def test_scheduler_wires_every_job_and_each_runs_against_a_store() -> None:
    """APScheduler gets one cron job per job (per tenant where it is per tenant); each runs."""
    from apscheduler.schedulers.background import BackgroundScheduler

    app, _, clock = _market()
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, app, [TENANT, "other"])
    ids = {job.id for job in scheduler.get_jobs()}
    tenant_jobs = [j for j in SCHEDULE if j.per_tenant]
    assert len(ids) == len(SCHEDULE) + len(tenant_jobs)
    assert {"close", "reconcile:acme", "reconcile:other", "seal:acme"} <= ids
    clock.advance(timedelta(days=1))
    for job in SCHEDULE:
        job(app, TENANT)  # each is a real call; none needs anything but the store
    lines = crontab("/etc/settlement.toml", [TENANT]).splitlines()[1:]
    assert len(lines) == len(SCHEDULE)
    assert "*/15 * * * *  settlement --config /etc/settlement.toml --tenant acme --json " in (
        "\n".join(lines)
    )
