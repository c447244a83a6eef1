"""The composition root: wires adapters into a ready `Settlement`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from settlement_adapters.clock import SystemClock
from settlement_adapters.fx import NoFxRates
from settlement_adapters.memory import MemoryDatabase, MemoryUnitOfWork

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
from settlement_core.errors import ValidationError
from settlement_core.ids import IdFactory, UuidV7Factory
from settlement_core.ports import (
    BusinessCalendar,
    Clock,
    FxRates,
    Metrics,
    NoMetrics,
    PaymentChannel,
    UnitOfWork,
)
from settlement_core.rules import ChannelPolicy, RuleEngine, WeekendCalendar
from settlement_core.services.context import Context
from settlement_core.services.settlement import Settlement


def in_memory(
    rules: RuleEngine,
    *,
    clock: Clock | None = None,
    fx: FxRates | None = None,
    calendar: BusinessCalendar | None = None,
    ids: IdFactory | None = None,
    db: MemoryDatabase | None = None,
    batch_size: int = 500,
    channels: Iterable[PaymentChannel] = (),
    channel_policy: ChannelPolicy | None = None,
    metrics: Metrics | None = None,
) -> Settlement:
    """A Settlement on the in-memory adapter (tests, demos, embedded use without a database)."""
    database = db if db is not None else MemoryDatabase()
    factory = ids or UuidV7Factory()
    ports = _Ports(
        clock, fx, calendar, factory, batch_size, tuple(channels), channel_policy, metrics
    )
    return _assemble(lambda: MemoryUnitOfWork(database, factory), rules, ports)


def bootstrap(
    target: str | Engine,
    rules: RuleEngine,
    *,
    clock: Clock | None = None,
    fx: FxRates | None = None,
    calendar: BusinessCalendar | None = None,
    ids: IdFactory | None = None,
    create: bool = False,
    batch_size: int = 500,
    channels: Iterable[PaymentChannel] = (),
    channel_policy: ChannelPolicy | None = None,
    metrics: Metrics | None = None,
) -> Settlement:
    """A ready Settlement for `memory://`, a database URL, or an existing Engine.

    `create=True` creates missing tables (tests, quick starts); production
    databases are managed with the shipped migrations. `channels` are the
    payment channels payouts are routed to by name (an account's
    `payout_channel`); `channel_policy` sets retries and polling;
    `metrics` receives the business counters (default: none).
    """
    if isinstance(target, str) and target.startswith("memory://"):
        return in_memory(
            rules,
            clock=clock,
            fx=fx,
            calendar=calendar,
            ids=ids,
            batch_size=batch_size,
            channels=channels,
            channel_policy=channel_policy,
            metrics=metrics,
        )
    from settlement_adapters.sqla import SqlAlchemyUnitOfWork, create_schema, make_engine

    engine = make_engine(target) if isinstance(target, str) else target
    if create:
        create_schema(engine)
    factory = ids or UuidV7Factory()
    ports = _Ports(
        clock, fx, calendar, factory, batch_size, tuple(channels), channel_policy, metrics
    )
    return _assemble(lambda: SqlAlchemyUnitOfWork(engine, ids=factory), rules, ports)


@attrs.frozen
class _Ports:
    """The ports a caller gave (None: use the default)."""

    clock: Clock | None
    fx: FxRates | None
    calendar: BusinessCalendar | None
    ids: IdFactory
    batch_size: int
    channels: tuple[PaymentChannel, ...]
    channel_policy: ChannelPolicy | None
    metrics: Metrics | None


def _assemble(uow: Callable[[], UnitOfWork], rules: RuleEngine, ports: _Ports) -> Settlement:
    """The service over one store, with the defaults for every port not given."""
    rules.validate()
    by_name: dict[str, PaymentChannel] = {}
    for channel in ports.channels:
        if channel.name in by_name:
            raise ValidationError(f"two payment channels are named {channel.name!r}")
        by_name[channel.name] = channel
    context = Context(
        uow=uow,
        rules=rules,
        clock=ports.clock or SystemClock(),
        ids=ports.ids,
        fx=ports.fx or NoFxRates(),
        calendar=ports.calendar or WeekendCalendar(),
        batch_size=ports.batch_size,
        channels=by_name,
        channel_policy=ports.channel_policy or ChannelPolicy(),
        metrics=ports.metrics or NoMetrics(),
    )
    return Settlement(context)


def joined(app: Settlement, connection: Connection) -> Settlement:
    """The same service, working inside a connection (and transaction) the host holds.

    Each command then runs in a savepoint of the host's transaction, so the
    host's own write (the order) and ours (the billing item) commit or roll back
    together; the host commits.
    """
    from settlement_adapters.sqla import SqlAlchemyUnitOfWork

    factory = app.context.ids
    context = attrs.evolve(
        app.context, uow=lambda: SqlAlchemyUnitOfWork(connection=connection, ids=factory)
    )
    return Settlement(context)
