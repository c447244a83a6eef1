"""The demo's marketplace: its sellers and its orders, drawn from one seed.

Everything here is a pure function of the seed and the sizes, so a second run
generates the same keys and amounts, and the library replays instead of booking
twice.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from attrs import frozen

from settlement_core import ItemKind, OpenAccount, RecordBillingItem, from_minor

TENANT = "demo-market"
START = datetime(2025, 6, 1, tzinfo=UTC)

# (share of sellers, attributes, time zone, currency they sell in)
SEGMENTS: tuple[tuple[float, dict[str, str], str, str], ...] = (
    (0.45, {"seller_type": "small", "region": "US"}, "America/New_York", "USD"),
    (0.15, {"seller_type": "pro", "region": "US"}, "America/Chicago", "USD"),
    (0.15, {"seller_type": "small", "region": "EU"}, "Europe/Berlin", "EUR"),
    (0.10, {"seller_type": "small", "region": "abroad"}, "Asia/Singapore", "USD"),
    (0.10, {"seller_type": "hobby", "region": "US"}, "UTC", "USD"),
    (0.05, {"seller_type": "small", "region": "US", "review": "open"}, "UTC", "USD"),
)


@frozen
class Seller:
    """One shop of the marketplace."""

    shop_id: str
    currency: str
    command: OpenAccount


def sellers(count: int, seed: int) -> list[Seller]:
    """`count` shops spread over the segments by their shares (each segment gets one first)."""
    rng = random.Random(f"sellers:{seed}")
    result: list[Seller] = []
    for n in range(count):
        _, attributes, zone, currency = SEGMENTS[n] if n < len(SEGMENTS) else _draw(rng)
        shop = f"seller-{n + 1:04d}"
        command = OpenAccount(
            tenant_id=TENANT,
            shop_id=shop,
            time_zone=zone,
            attributes=attributes,
            payout_channel="bank",
            payout_method_ref=f"iban:{shop}",
        )
        result.append(Seller(shop, currency, command))
    return result


def _draw(rng: random.Random) -> tuple[float, dict[str, str], str, str]:
    return rng.choices(SEGMENTS, weights=[s[0] for s in SEGMENTS])[0]


def orders_by_day(
    shops: list[Seller], orders: int, days: int, seed: int
) -> Iterator[tuple[int, list[RecordBillingItem]]]:
    """Each day's billing items: its sales, and refunds of earlier sales that fall due."""
    rng = random.Random(f"orders:{seed}")
    # A few busy sellers take most orders, as on any marketplace.
    weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(shops))]
    refunds: defaultdict[int, list[RecordBillingItem]] = defaultdict(list)
    per_day = orders / days
    number = 0
    for day in range(days):
        count = max(1, round(rng.gauss(per_day, per_day / 8)))
        batch: list[RecordBillingItem] = []
        for seller in rng.choices(shops, weights=weights, k=count):
            number += 1
            at = START + timedelta(days=day, seconds=rng.randrange(86_400))
            cents = rng.randint(300, 25_000)
            order_id = f"order-{number:07d}"
            batch.append(_item(seller, order_id, ItemKind.SALE, cents, at))
            if rng.random() < 0.08:  # refunded later, in part or in full
                later = day + rng.randint(0, 10)
                share = rng.choice((1, 2, 3))
                refund_at = at + timedelta(days=later - day, hours=1)
                refund = _item(seller, order_id, ItemKind.REFUND, -cents // share, refund_at)
                refunds[later].append(refund)
        due = refunds.pop(day, [])
        yield day, batch + [r for r in due if r.occurred_at < START + timedelta(days=day + 1)]
        refunds[day + 1].extend(r for r in due if r.occurred_at >= START + timedelta(days=day + 1))


def _item(
    seller: Seller, order_id: str, kind: ItemKind, cents: int, at: datetime
) -> RecordBillingItem:
    return RecordBillingItem(
        tenant_id=TENANT,
        shop_id=seller.shop_id,
        key=f"{order_id}:{kind.value}",
        order_id=order_id,
        kind=kind,
        amount=from_minor(cents, seller.currency),
        occurred_at=at,
    )
