"""The TOML configuration: rules as the host writes them, and every mistake named."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from settlement_adapters.config import load_config, parse_config
from settlement_core import Cycle, money
from settlement_core.errors import FxRateUnavailable, InvalidRule, ValidationError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "marketplace.toml"
AT = datetime(2025, 6, 1, tzinfo=UTC)


def _rules(**rule: Any) -> dict[str, Any]:
    return {"rules": {"r": {"cycle": "weekly", **rule}}}


def test_the_demo_configuration_reads_as_its_comments_say() -> None:
    """Six rules, five segments in priority order, one rate, one simulated channel."""
    config = load_config(EXAMPLE)
    assert config.tenant == "demo-market"
    assert config.rules.rule("weekly-fx", AT).payment_currency == "EUR"
    assert config.rules.rule("monthly-eu", AT).cycle == Cycle.monthly(anchor_day=1)
    assert config.rules.rule("held", AT).is_hold is True
    assert config.rules.rule("manual", AT).auto_payment is False
    daily = config.rules.rule("daily-threshold", AT)
    assert (daily.cycle, daily.payment_threshold) == (Cycle.daily(), money("25.00", "USD"))
    assert config.rules.select({"review": "open", "region": "EU"}, None, AT).rule_id == "held"
    assert config.fx is not None
    assert config.fx.quote("USD", "EUR", AT).rate == Decimal("0.92")
    with pytest.raises(FxRateUnavailable):
        config.fx.quote("EUR", "USD", AT)  # only the pairs stated
    assert list(config.channels) == ["bank"]


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"rules": {}}, "at least one rule"),
        (_rules(cycle="fortnightly"), "cycle must be one of"),
        (_rules(treshold="20.00 USD"), "unknown key(s) treshold"),
        (_rules(threshold=20), "threshold must be written as"),
        (_rules(threshold="20.001 USD"), "20.001"),
        (_rules(hold="false"), "rules.r: is_hold must be a bool"),
        (_rules(anchor=True), "anchor must be an integer"),
        (_rules() | {"default_rule": "nope"}, "default_rule 'nope'"),
        (_rules() | {"segments": [{"rule": "r", "match": {}}]}, "must not be empty"),
        (_rules() | {"batch_size": 0}, "batch_size"),
        (_rules() | {"fx": {"rates": {"USD-EUR": "0.9"}}}, 'fx.rates."USD-EUR"'),
        (_rules() | {"fx": {"rates": {"USD/EUR": 0.9}}}, "BASE/QUOTE"),
        (_rules() | {"channels": {"b": {"type": "simulated"}}}, "needs a secret"),
        (_rules() | {"channels": {"b": {"factory": "nocolon"}}}, "package.module:callable"),
        (_rules() | {"databse": "x"}, "unknown key(s) databse"),
    ],
)
def test_a_mistake_is_a_validation_error_naming_it(data: dict[str, Any], names: str) -> None:
    """Nothing falls back to a default silently: a misspelt or wrong key is refused."""
    with pytest.raises(ValidationError) as caught:
        parse_config(data, source="host.toml")
    assert names in str(caught.value)


def test_rule_mistakes_are_invalid_rule_and_files_name_themselves(tmp_path: Path) -> None:
    """Rule errors are InvalidRule; an unreadable or malformed file names its path."""
    with pytest.raises(InvalidRule):
        parse_config(_rules(delay_days=-1))
    broken = tmp_path / "broken.toml"
    broken.write_text("rules = [")
    with pytest.raises(ValidationError, match=r"broken\.toml is not valid TOML"):
        load_config(broken)
    with pytest.raises(ValidationError, match="cannot read configuration"):
        load_config(tmp_path / "missing.toml")


def test_a_channel_factory_is_imported_only_when_built() -> None:
    """A configuration naming a channel module that is not installed still gives its rules."""
    config = parse_config(_rules() | {"channels": {"b": {"factory": "no_such_module:Bank"}}})
    assert config.rules.default_rule_id == "r"
    with pytest.raises(ValidationError, match="cannot import no_such_module:Bank"):
        config.build_channels(clock=None)  # type: ignore[arg-type]
