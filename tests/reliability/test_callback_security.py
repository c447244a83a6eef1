"""Forged, stale and replayed callbacks through the whole endpoint path, store unchanged (R-SEC-1).

The release-flow contract suite shows single examples (a changed outcome, a
wrong signature, one replay, one late callback) by the payout's status. Here:
any one-byte tamper of the body or of any header, any dropped header,
timestamps pushed outside the window either way (re-signed with the right key,
so only the time is wrong), and a nonce re-used for another body, each
refused with a CallbackRejected and the store's rows exactly as before, on
memory and SQLite; and the same callback arriving from several threads at
once on PostgreSQL and MariaDB is applied exactly once.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from settlement_adapters.channels.signing import (
    DEFAULT_TOLERANCE,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from settlement_adapters.snapshots import store_rows
from settlement_adapters.testing import ChannelMarket, empty_store, examples, secret, store_build
from settlement_core.errors import CallbackRejected, ReplayedCallback
from settlement_core.lifecycle import PayoutStatus
from settlement_core.model import AnswerSource
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import TENANT

HEADERS = (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
Callback = tuple[bytes, dict[str, str]]


Pending = tuple[ChannelMarket, Engine | None, Callback]


@contextlib.contextmanager
def _pending(backend: str, folder: Path) -> Iterator[Pending]:
    """A released payout whose paying callback is due, not yet handled."""
    with empty_store(backend, folder) as engine:
        market = ChannelMarket(store_build(engine))
        market.released({"s1": "10.00"})
        market.advance(minutes=40)
        [callback] = market.bank.deliver()
        yield market, engine, callback


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def pending(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pending]:
    """One such store per backend, shared by tests that must leave it as it is."""
    with _pending(request.param, tmp_path_factory.mktemp("callbacks")) as found:
        yield found


@pytest.fixture(params=["memory", "sqlite"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pending]:
    """One such store for a test that accepts the callback."""
    with _pending(request.param, tmp_path) as found:
        yield found


def _refused(
    market: ChannelMarket, engine: Engine | None, body: bytes, headers: dict[str, str]
) -> None:
    before = store_rows(market.app, engine)
    with pytest.raises(CallbackRejected):
        market.app.handle_callback("bank-a", body, headers)
    assert store_rows(market.app, engine) == before


SETTINGS = settings(
    max_examples=examples(60),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(data=st.data())
def test_any_tampered_byte_is_refused_and_nothing_stored(
    pending: Pending, data: st.DataObject
) -> None:
    """One byte of the body or of one header changed: refused, the rows as before."""
    market, engine, (body, headers) = pending
    part = data.draw(st.sampled_from(("body", *HEADERS)))
    original = body if part == "body" else headers[part].encode()
    at = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[at]))
    changed = original[:at] + bytes([byte]) + original[at + 1 :]
    if part == "body":
        _refused(market, engine, changed, headers)
    else:
        text = changed.decode("latin-1")
        if part == SIGNATURE_HEADER and text.lower() == headers[part].lower():
            return  # the same hex digest in other letter case
        _refused(market, engine, body, {**headers, part: text})


@pytest.mark.parametrize("missing", HEADERS)
def test_a_missing_header_is_refused_and_nothing_stored(pending: Pending, missing: str) -> None:
    """Each of the three headers is required."""
    market, engine, (body, headers) = pending
    _refused(market, engine, body, {k: v for k, v in headers.items() if k != missing})


@SETTINGS
@given(
    seconds=st.integers(int(DEFAULT_TOLERANCE.total_seconds()) + 1, 10 * 365 * 86400),
    future=st.booleans(),
)
def test_a_correctly_signed_callback_outside_the_window_is_stale(
    pending: Pending, seconds: int, future: bool
) -> None:
    """Signed with the right key, but sent too long ago or too far ahead: refused."""
    market, engine, (body, _) = pending
    shift = timedelta(seconds=seconds if future else -seconds)
    resigned = sign(secret("bank-a"), body, market.clock.now() + shift, "fresh-nonce")
    _refused(market, engine, body, resigned)


def test_a_used_nonce_is_refused_even_for_another_body(fresh: Pending) -> None:
    """Once a nonce was accepted, nothing signed with it is applied again, whatever it says."""
    market, engine, (body, headers) = fresh
    assert market.app.handle_callback("bank-a", body, headers).applied
    nonce = headers[NONCE_HEADER]
    later = market.clock.now()
    _refused(market, engine, body, sign(secret("bank-a"), body, later, nonce))
    other = json.loads(body)
    other["outcome"] = "failed"
    changed = json.dumps(other).encode()
    _refused(market, engine, changed, sign(secret("bank-a"), changed, later, nonce))
    _refused(market, engine, body, headers)
    assert_invariants(market)


@pytest.fixture(params=["postgresql", "mysql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """An empty store on a database server."""
    with empty_store(request.param, tmp_path) as engine:
        yield engine


COPIES = 6


def test_the_same_callback_from_many_threads_is_applied_once(server: Engine | None) -> None:
    """Six copies of one callback at once: one applied, five ReplayedCallback, paid once."""
    market = ChannelMarket(store_build(server))
    [payout] = market.released({"s1": "10.00"})
    market.advance(minutes=40)
    [(body, headers)] = market.bank.deliver()
    barrier = threading.Barrier(COPIES, timeout=30)

    def handle() -> str:
        barrier.wait()
        try:
            receipt = market.app.handle_callback("bank-a", body, headers)
        except ReplayedCallback:
            return "replayed"
        return "applied" if receipt.applied else "not applied"

    with ThreadPoolExecutor(max_workers=COPIES) as pool:
        outcomes = sorted(pool.map(lambda _: handle(), range(COPIES)))
    assert outcomes == ["applied"] + ["replayed"] * (COPIES - 1)
    assert market.status(payout) is PayoutStatus.PAID
    sources = [e.source for e in market.app.channel_events(TENANT, payout.id)]
    assert sources.count(AnswerSource.CALLBACK) == 1
    assert_invariants(market)
