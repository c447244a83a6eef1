"""Publishing the library's domain events to Kafka, from the outbox, at least once.

Run: python examples/kafka_outbox.py --bootstrap localhost:9092 [--topic settlement-events]
(needs `pip install kafka-python`; the import is optional so the rest of the
examples and their tests run without it.)

Every state change the library makes stores a domain event in the outbox, in
the same transaction as the change. `Settlement.publish_pending(publisher)`
hands them over in order and marks them sent only after the publisher returns:
a publisher that raises leaves its batch for the next run, so consumers dedupe
by the message id (sent as the `message-id` header). Messages are keyed by
tenant, so one tenant's events stay in order within a partition.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from settlement_adapters.clock import SystemClock
from settlement_adapters.config import load_config
from settlement_core.ports import OutboxMessage


class Future(Protocol):
    """What a producer's send returns."""

    def get(self, timeout: float | None = None) -> object:
        """Wait for the broker's acknowledgement; raise if it failed."""
        ...


class Producer(Protocol):
    """The part of kafka-python's KafkaProducer used here."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Future:
        """Queue one record."""
        ...

    def flush(self, timeout: float | None = None) -> None:
        """Send everything queued."""
        ...


class KafkaPublisher:
    """An EventPublisher for `Settlement.publish_pending`: one record per outbox message."""

    def __init__(self, producer: Producer, topic: str, timeout: float = 30.0) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = timeout

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Send the batch and wait for every acknowledgement; raise to keep it pending."""
        futures = [
            self._producer.send(
                self._topic,
                key=message.tenant_id.encode(),
                value=encode(message),
                headers=[("message-id", message.id.encode()), ("event", message.name.encode())],
            )
            for message in messages
        ]
        self._producer.flush(self._timeout)
        for future in futures:
            future.get(self._timeout)  # a failed send raises here: nothing is marked sent


def encode(message: OutboxMessage) -> bytes:
    """The record's value: the event as JSON (amounts are already integers or strings)."""
    return json.dumps(
        {
            "id": message.id,
            "tenant_id": message.tenant_id,
            "name": message.name,
            "created_at": message.created_at.isoformat(),
            "payload": dict(message.payload),
        },
        sort_keys=True,
    ).encode()


def kafka_producer(bootstrap_servers: str) -> Producer:
    """A kafka-python producer that waits for every in-sync replica (acks=all)."""
    try:
        kafka: Any = importlib.import_module("kafka")
    except ImportError as exc:
        raise SystemExit("this example needs kafka-python: pip install kafka-python") from exc
    producer: Producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", retries=5
    )
    return producer


def main() -> int:
    """Publish pending events every few seconds until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--topic", default="settlement-events")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between runs")
    options = parser.parse_args()
    config = load_config(Path(os.environ.get("SETTLEMENT_CONFIG", "settlement.toml")))
    app = config.settlement(config.database or "memory://", SystemClock())
    publisher = KafkaPublisher(kafka_producer(options.bootstrap), options.topic)
    while True:
        sent = app.publish_pending(publisher)
        print(f"published {sent} events")
        time.sleep(options.every)


if __name__ == "__main__":
    raise SystemExit(main())
