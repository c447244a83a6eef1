"""A host's settlement configuration as a TOML file: database, rules, exchange rates, channels.

The CLI and the demo read it, so jobs run with the host's own payout rules::

    database = "sqlite:///settlement.db"
    tenant = "acme"                 # the default --tenant
    default_rule = "weekly"

    [rules.weekly]
    cycle = "weekly"                # daily | weekly | biweekly | monthly
    anchor = 0                      # weekday (0 = Monday) or day of the month
    threshold = "20.00 USD"
    delay_days = 2

    [[segments]]
    rule = "monthly-eu"
    priority = 1
    match = { region = "EU" }

    [fx.rates]
    "USD/EUR" = "0.92"              # 1 USD = 0.92 EUR

    [channels.bank]
    factory = "my_host.payments:make_bank_channel"   # called with name=, clock=, and the rest

Every mistake is a ValidationError (InvalidRule for rules) naming the key.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from attrs import field, frozen

from settlement_core import Settlement
from settlement_core.errors import FxRateUnavailable, InvalidRule, ValidationError
from settlement_core.model import FxQuote
from settlement_core.money import Money, money
from settlement_core.ports import Clock, PaymentChannel
from settlement_core.rules import Cycle, PayoutRule, RuleEngine, SegmentRule

CYCLES: Mapping[str, Callable[[int | None], Cycle]] = {
    "daily": lambda _anchor: Cycle.daily(),
    "weekly": lambda anchor: Cycle.weekly(anchor_weekday=anchor or 0),
    "biweekly": lambda anchor: Cycle.biweekly(anchor_weekday=anchor or 0),
    "monthly": lambda anchor: Cycle.monthly(anchor_day=anchor or 1),
}
RULE_KEYS = frozenset(
    {
        "cycle",
        "anchor",
        "auto_payment",
        "threshold",
        "payment_currency",
        "hold",
        "delay_days",
        "negative_balance_limit",
    }
)
TOP_KEYS = frozenset(
    {"database", "tenant", "batch_size", "default_rule", "rules", "segments", "fx", "channels"}
)

ChannelFactory = Callable[[Clock], PaymentChannel]


class ConfiguredRates:
    """The exchange rates a host states in its configuration; only the pairs given."""

    def __init__(self, rates: Mapping[tuple[str, str], Decimal], source: str) -> None:
        self._rates = dict(rates)
        self._source = source

    def quote(self, base: str, quote: str, at: datetime) -> FxQuote:
        """The configured rate from `base` to `quote`, or FxRateUnavailable."""
        rate = self._rates.get((base, quote))
        if rate is None:
            raise FxRateUnavailable(f"no rate from {base} to {quote} in {self._source}")
        return FxQuote(base=base, quote=quote, rate=rate, as_of=at, source=self._source)


@frozen(kw_only=True)
class Config:
    """What a configuration file says; `channels` are built once a clock is known."""

    database: str | None = None
    tenant: str | None = None
    batch_size: int = 500
    rules: RuleEngine
    fx: ConfiguredRates | None = None
    channels: Mapping[str, ChannelFactory] = field(factory=dict)

    def build_channels(self, clock: Clock) -> list[PaymentChannel]:
        """One channel per `[channels.NAME]` table, on the given clock."""
        return [factory(clock) for factory in self.channels.values()]

    def settlement(self, url: str, clock: Clock, *, create: bool = False) -> Settlement:
        """The service over `url` with these rules, rates, channels and batch size."""
        from settlement_adapters.bootstrap import bootstrap

        return bootstrap(
            url,
            self.rules,
            clock=clock,
            fx=self.fx,
            create=create,
            batch_size=self.batch_size,
            channels=self.build_channels(clock),
        )


def load_config(path: Path) -> Config:
    """Read a TOML configuration file; ValidationError if it is unreadable or wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read configuration {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data, source=str(path))


def parse_config(data: Mapping[str, Any], source: str = "configuration") -> Config:
    """Build a Config from parsed TOML (a mapping); ValidationError names the wrong key."""
    _unknown(data, TOP_KEYS, source)
    batch_size = data.get("batch_size", 500)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"{source}: batch_size must be a positive integer")
    return Config(
        database=_optional_str(data, "database", source),
        tenant=_optional_str(data, "tenant", source),
        batch_size=batch_size,
        rules=_rules(data, source),
        fx=_fx(_table(data, "fx", source), source),
        channels=_channels(_table(data, "channels", source), source),
    )


def parse_money(text: object, what: str) -> Money:
    """Money written as "<decimal> <ISO code>", e.g. "20.00 USD"."""
    if not isinstance(text, str) or len(text.split()) != 2:
        raise ValidationError(f'{what} must be written as "<amount> <currency>", got {text!r}')
    amount, currency = text.split()
    return money(amount, currency)


def _rules(data: Mapping[str, Any], source: str) -> RuleEngine:
    rules = _table(data, "rules", source)
    if not rules:
        raise InvalidRule(f"{source}: define at least one rule under [rules.NAME]")
    default = data.get("default_rule", next(iter(rules)))
    if not isinstance(default, str) or default not in rules:
        raise InvalidRule(f"{source}: default_rule {default!r} is not one of the [rules] tables")
    engine = RuleEngine(default_rule_id=default)
    for rule_id, table in rules.items():
        if not isinstance(table, Mapping):
            raise InvalidRule(f"{source}: rules.{rule_id} must be a table")
        engine.define(_rule(rule_id, table, f"{source}: rules.{rule_id}"))
    segments = data.get("segments", [])
    if not isinstance(segments, list):
        raise InvalidRule(f"{source}: segments must be an array of tables ([[segments]])")
    for n, segment in enumerate(segments):
        where = f"{source}: segments[{n}]"
        if not isinstance(segment, Mapping):
            raise InvalidRule(f"{where} must be a table")
        _unknown(segment, frozenset({"rule", "priority", "match"}), where)
        engine.add_segment(
            SegmentRule(
                rule_id=segment.get("rule", ""),
                priority=segment.get("priority", 0),
                match=segment.get("match", {}),
            )
        )
    engine.validate()
    return engine


def _rule(rule_id: str, table: Mapping[str, Any], where: str) -> PayoutRule:
    _unknown(table, RULE_KEYS, where)
    cycle = table.get("cycle", "daily")
    if cycle not in CYCLES:
        raise InvalidRule(f"{where}: cycle must be one of {', '.join(CYCLES)}, got {cycle!r}")
    anchor = table.get("anchor")
    if anchor is not None and (isinstance(anchor, bool) or not isinstance(anchor, int)):
        raise InvalidRule(f"{where}: anchor must be an integer")

    def amount(key: str) -> Money | None:
        value = table.get(key)
        return None if value is None else parse_money(value, f"{where}.{key}")

    try:
        return PayoutRule(
            rule_id=rule_id,
            cycle=CYCLES[cycle](anchor),
            auto_payment=table.get("auto_payment", True),
            payment_threshold=amount("threshold"),
            payment_currency=table.get("payment_currency"),
            is_hold=table.get("hold", False),
            delay_days=table.get("delay_days", 0),
            negative_balance_limit=amount("negative_balance_limit"),
        )
    except InvalidRule as exc:
        raise InvalidRule(f"{where}: {exc}") from exc


def _fx(table: Mapping[str, Any], source: str) -> ConfiguredRates | None:
    if not table:
        return None
    _unknown(table, frozenset({"rates"}), f"{source}: fx")
    rates: dict[tuple[str, str], Decimal] = {}
    for pair, value in _table(table, "rates", f"{source}: fx").items():
        base, _, quote = pair.partition("/")
        try:
            rate = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            rate = None
        if not base or not quote or rate is None or not rate.is_finite() or rate <= 0:
            raise ValidationError(
                f'{source}: fx.rates."{pair}" must be "BASE/QUOTE" = "<positive decimal>"'
            )
        rates[(base, quote)] = rate
    return ConfiguredRates(rates, source)


def _channels(table: Mapping[str, Any], source: str) -> dict[str, ChannelFactory]:
    channels: dict[str, ChannelFactory] = {}
    for name, options in table.items():
        where = f"{source}: channels.{name}"
        if not isinstance(options, Mapping):
            raise ValidationError(f"{where} must be a table")
        channels[name] = _channel_factory(name, dict(options), where)
    return channels


def _channel_factory(name: str, options: dict[str, Any], where: str) -> ChannelFactory:
    kind = options.pop("type", None)
    if kind == "simulated":
        secret = options.pop("secret", None)
        if not isinstance(secret, str) or not secret:
            raise ValidationError(f"{where}: a simulated channel needs a secret")
        minutes = options.pop("latency_minutes", 30)
        from settlement_adapters.channels import SimulatedBank

        def simulated(clock: Clock) -> PaymentChannel:
            return SimulatedBank(
                name=name,
                secret=secret.encode(),
                clock=clock,
                latency=timedelta(minutes=minutes),
                **options,
            )

        return simulated
    if kind is not None:
        raise ValidationError(f'{where}: type must be "simulated" (or give a factory instead)')
    target = options.pop("factory", None)
    if not isinstance(target, str) or ":" not in target:
        raise ValidationError(f'{where}: factory must be "package.module:callable"')
    module, _, attribute = target.partition(":")

    def imported(clock: Clock) -> PaymentChannel:
        # Imported when the channel is built, so commands that need none still run.
        try:
            made = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise ValidationError(f"{where}: cannot import {target}: {exc}") from exc
        return cast(PaymentChannel, made(name=name, clock=clock, **options))

    return imported


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where}: {key} must be a table")
    return value


def _optional_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{where}: {key} must be a string")
    return value


def _unknown(data: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    # A misspelt key would otherwise silently fall back to a default.
    extra = sorted(set(data) - known)
    if extra:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(extra)}")
