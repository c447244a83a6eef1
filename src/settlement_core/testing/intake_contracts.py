"""Contract suites for order intake on every adapter: collectors, run gate, run revocation.

Use as the suites in `contracts`: subclass them in a test module that provides
the `settlement_build` fixture.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement_core.errors import RunPaidOut, RunRevoked, ValidationError
from settlement_core.intake import SEED_FLOW, WindowPlan
from settlement_core.lifecycle import RunStatus, StatementStatus
from settlement_core.model import BillingItem, OpenRun, RecordBillingItem, RunItemsReversed
from settlement_core.ports import ItemFilter, StatementFilter, paged
from settlement_core.services.order_receivables import ORDER_RECEIVABLE_SUFFIX
from settlement_core.services.runs import REVERSAL_PREFIX
from settlement_core.testing.fakes import RecordingPublisher
from settlement_core.testing.invariants import assert_invariants
from settlement_core.testing.marketplace import START, TENANT, Build, Marketplace
from settlement_core.testing.sources import (
    ORDER_MAPPING,
    STATUS_MAPPING,
    ListSource,
    order_fields,
    status_fields,
)

MINUTE = timedelta(minutes=1)
_names = itertools.count()


class _Suite:
    @pytest.fixture
    def market(self, settlement_build: Build) -> Marketplace:
        """A fresh marketplace on the adapter under test."""
        return Marketplace(settlement_build)


def _items(market: Marketplace, shop_id: str) -> list[BillingItem]:
    account = market.app.find_account(TENANT, shop_id)
    assert account is not None
    where = ItemFilter(tenant_id=TENANT, account_id=account.id)
    return list(paged(lambda after: market.app.query_items(where, after=after, limit=1000)))


def _keys(market: Marketplace, shop_id: str) -> list[str]:
    return sorted(i.key for i in _items(market, shop_id))


def _clean(market: Marketplace) -> None:
    report = market.app.reconcile(TENANT, market.clock.now(), dry_run=True)
    assert report.clean, report.findings
    assert_invariants(market)


class CollectorContract(_Suite):
    """collect (R-ING-6): each order counted once whatever the windows, re-runs and delays."""

    def _source(self, market: Marketplace) -> ListSource:
        return ListSource(f"shop-db-{next(_names)}", TENANT, market.clock.now)

    def test_windows_rerun_and_overlap_count_each_order_once(self, market: Marketplace) -> None:
        """Two collects over the same span, and windows that re-read, book every order once."""
        market.shop("s1")
        source = self._source(market)
        for n in range(5):
            at = START + n * 40 * timedelta(seconds=1)
            source.add(order_fields(f"o{n}", "s1", "10.00", at), at, at)
        market.advance(minutes=10)
        first = market.app.collect(source, ORDER_MAPPING, market.clock.now(), start=START)
        again = market.app.collect(source, ORDER_MAPPING, market.clock.now())
        assert first.recorded == 5 and first.windows == 10
        assert again.recorded == 0 and again.windows == 0
        assert _keys(market, "s1") == sorted(f"{source.name}:o{n}:order" for n in range(5))
        _clean(market)

    def test_a_late_record_within_the_allowance_is_collected(self, market: Marketplace) -> None:
        """A record that shows up four minutes after its change time is still read, once."""
        market.shop("s1")
        source = self._source(market)
        at = START + timedelta(seconds=30)
        source.add(order_fields("late", "s1", "5.00", at), at, at + timedelta(minutes=4))
        plan = WindowPlan(lateness=timedelta(minutes=5))
        for _ in range(8):
            market.advance(minutes=1)
            market.app.collect(source, ORDER_MAPPING, market.clock.now(), plan=plan, start=START)
        assert _keys(market, "s1") == [f"{source.name}:late:order"]

    def test_a_source_down_for_an_hour_is_caught_up(self, market: Marketplace) -> None:
        """While down the checkpoint stays; afterwards every order of the hour is booked once."""
        market.shop("s1")
        source = self._source(market)
        for n in range(6):
            at = START + n * 10 * MINUTE
            source.add(order_fields(f"o{n}", "s1", "1.00", at), at, at)
        source.down = True
        market.advance(hours=1)
        down = market.app.collect(source, ORDER_MAPPING, market.clock.now(), start=START)
        assert down.source_error is not None and down.windows == 0 and down.checkpoint is None
        source.down = False
        market.advance(minutes=1)
        up = market.app.collect(source, ORDER_MAPPING, market.clock.now(), start=START)
        assert up.recorded == 6 and up.windows == 61
        assert up.checkpoint == START + 61 * MINUTE

    def test_bad_records_are_reported_and_not_stored(self, market: Marketplace) -> None:
        """A float amount or a missing field is refused; the other records are booked."""
        market.shop("s1")
        source = self._source(market)
        at = START + timedelta(seconds=5)
        source.add({**order_fields("float", "s1", "1.00", at), "PAY_AMOUNT": 1.1}, at, at)
        source.add({**order_fields("none", "s1", "1.00", at), "SELLER": " "}, at, at)
        source.add(order_fields("good", "s1", "2.50", at), at, at)
        market.advance(minutes=2)
        report = market.app.collect(source, ORDER_MAPPING, market.clock.now(), start=START)
        assert report.recorded == 1
        reasons = " | ".join(r.reason for r in report.rejected)
        assert len(report.rejected) == 2, reasons
        assert "exact decimal" in reasons and "missing" in reasons
        assert _keys(market, "s1") == [f"{source.name}:good:order"]

    def test_a_changed_record_is_reported_not_applied(self, market: Marketplace) -> None:
        """The same order re-sent with another amount conflicts with what was booked."""
        market.shop("s1")
        source = self._source(market)
        at = START + timedelta(seconds=5)
        source.add(order_fields("o1", "s1", "4.00", at), at, at)
        source.add(order_fields("o1", "s1", "4.50", at + MINUTE), at + MINUTE, at + MINUTE)
        market.advance(minutes=3)
        report = market.app.collect(source, ORDER_MAPPING, market.clock.now(), start=START)
        assert report.recorded == 1
        [rejected] = report.rejected
        assert "already used" in rejected.reason and rejected.changed_at == at + MINUTE
        assert [i.amount_minor for i in _items(market, "s1")] == [400]

    def test_a_source_with_no_checkpoint_needs_a_start(self, market: Marketplace) -> None:
        """Without a checkpoint or a start the collector refuses instead of guessing."""
        with pytest.raises(ValidationError):
            market.app.collect(self._source(market), ORDER_MAPPING, market.clock.now())

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        records=st.lists(
            st.tuples(st.integers(0, 29 * 60), st.integers(0, 5 * 60)), min_size=1, max_size=12
        ),
        calls=st.lists(st.integers(1, 12 * 60), min_size=1, max_size=6),
        window=st.sampled_from([30, 60, 150]),
    )
    def test_recorded_items_equal_source_orders(
        self,
        market: Marketplace,
        records: list[tuple[int, int]],
        calls: list[int],
        window: int,
    ) -> None:
        """Any windows, collect times and delays (within the allowance): items == orders."""
        shop = f"p{next(_names)}"
        market.shop(shop)
        source = self._source(market)
        base = market.clock.now()
        for n, (offset, delay) in enumerate(records):
            at = base + timedelta(seconds=offset)
            source.add(order_fields(f"o{n}", shop, "1.25", at), at, at + timedelta(seconds=delay))
        plan = WindowPlan(size=timedelta(seconds=window), lateness=timedelta(minutes=5))
        for step in [*calls, 40 * 60]:  # the last call is well after every arrival
            market.advance(minutes=step / 60)
            market.app.collect(source, ORDER_MAPPING, market.clock.now(), plan=plan, start=base)
        expected = sorted(f"{source.name}:o{n}:order" for n in range(len(records)))
        assert _keys(market, shop) == expected


class StatusFlowContract(_Suite):
    """Order-status flows through a collector (R-ING-7): receivables, settlement, cover."""

    def _collect(self, market: Marketplace, source: ListSource) -> None:
        market.advance(hours=2)
        report = market.app.collect(
            source, STATUS_MAPPING, market.clock.now(), flow=SEED_FLOW, start=START
        )
        assert report.rejected == ()

    def test_a_ticketed_and_refunded_order_in_any_arrival_order(self, market: Marketplace) -> None:
        """The refund arrives before the ticket: all four entries, once, on the right accounts."""
        market.shop("d1")
        source = ListSource(f"orders-{next(_names)}", TENANT, market.clock.now)
        placed, fixed = START + MINUTE, START + 2 * MINUTE
        s_refund, refund = START + 20 * MINUTE, START + 30 * MINUTE
        refunded = status_fields(
            "A",
            "d1",
            "REFUNDED",
            "88.00",
            placed_at=placed,
            supplier_refunded_at=s_refund,
            refunded_at=refund,
        )
        ticketed = status_fields("A", "d1", "FIXED", "88.00", placed_at=placed, fulfilled_at=fixed)
        source.add(refunded, refund, refund)
        source.add(ticketed, fixed, refund + MINUTE)  # late: within the five-minute allowance
        source.add(status_fields("A", "d1", "LOCKED", "88.00", placed_at=placed), placed, placed)
        self._collect(market, source)
        name = source.name
        assert _keys(market, "d1") == [f"{name}:A:settlement+", f"{name}:A:settlement-"]
        assert _keys(market, f"d1{ORDER_RECEIVABLE_SUFFIX}") == [
            f"{name}:A:receivable+",
            f"{name}:A:receivable-",
        ]
        receivable = market.app.find_account(TENANT, f"d1{ORDER_RECEIVABLE_SUFFIX}")
        assert receivable is not None and receivable.is_held
        assert market.app.check_order_receivable_cover(TENANT, ["d1"]) == []
        _clean(market)

    def test_a_cycle_whose_settlement_exceeds_its_receivable_is_reported(
        self, market: Marketplace
    ) -> None:
        """Cancelled after ticketing: the receivable is given back, the settlement is not."""
        market.shop("d2")
        source = ListSource(f"orders-{next(_names)}", TENANT, market.clock.now)
        placed, fixed, cancelled = START + MINUTE, START + 2 * MINUTE, START + 3 * MINUTE
        source.add(
            status_fields("B", "d2", "FIXED", "10.00", placed_at=placed, fulfilled_at=fixed),
            fixed,
            fixed,
        )
        source.add(
            status_fields("B", "d2", "CANCELED", "10.00", placed_at=placed, cancelled_at=cancelled),
            cancelled,
            cancelled,
        )
        self._collect(market, source)
        [finding] = market.app.check_order_receivable_cover(TENANT, ["d2"])
        assert (finding.shop_id, finding.currency, finding.period_start) == ("d2", "CNY", START)
        assert (str(finding.receivable.amount), str(finding.payable.amount)) == ("0.00", "10.00")


class RunContract(_Suite):
    """Calculation runs (R-ING-8): approval gate and revocation in bounded batches."""

    def _run_items(self, market: Marketplace, run_id: str, shops: int, per_shop: int) -> None:
        for s in range(shops):
            market.shop(f"r{s}")
            for _ in range(per_shop):
                cmd = market.command(f"r{s}", "3.00")
                market.app.record_billing_item(attrs_evolve_run(cmd, run_id))

    def test_a_run_awaiting_approval_is_not_paid_until_approved(self, market: Marketplace) -> None:
        """Its statements wait past their payout date; approval lets the next payout run pay."""
        market.app.open_run(OpenRun(tenant_id=TENANT, run_id="rebate-03", needs_approval=True))
        self._run_items(market, "rebate-03", shops=1, per_shop=2)
        market.advance(days=1)
        _, created = market.run_jobs()
        assert created == ()
        held = market.app.create_payouts(market.clock.now()).held_by_run
        assert len(held) == 1
        market.app.approve_run(TENANT, "rebate-03", "finance-1")
        _, created = market.run_jobs()
        assert len(created) == 1
        assert market.app.get_payout(TENANT, created[0]).amount_minor == 600
        _clean(market)

    def test_revocation_reverses_in_bounded_batches_and_resumes(self, market: Marketplace) -> None:
        """Seven items in batches of three: a stopped call resumes; everything nets to zero."""
        self._run_items(market, "run-7", shops=2, per_shop=4)
        market.order("r0", "1.00")  # not of the run: untouched
        first = market.app.revoke_run(TENANT, "run-7", "ops-1", batch_size=3, max_batches=1)
        assert first.status is RunStatus.REVOKING and first.reversed == 3
        rest = market.app.revoke_run(TENANT, "run-7", "ops-1", batch_size=3)
        assert rest.status is RunStatus.REVOKED and rest.reversed == 8
        assert rest.batches == 3  # two more batches and the empty read that finishes
        again = market.app.revoke_run(TENANT, "run-7", "ops-1", batch_size=3)
        assert again.batches == 0 and again.reversed == 8
        for shop, remaining in (("r0", 100), ("r1", 0)):
            account = market.app.find_account(TENANT, shop)
            assert account is not None
            where = StatementFilter(tenant_id=TENANT, account_id=account.id)
            totals = sum(s.total_minor for s in market.app.query_statements(where).items)
            assert totals == remaining
        reversals = [k for k in _keys(market, "r1") if k.startswith(REVERSAL_PREFIX)]
        assert len(reversals) == 4
        _clean(market)

    def test_revocation_events_show_the_batch_size(self, market: Marketplace) -> None:
        """Each batch emits RunItemsReversed with its size and the running total."""
        self._run_items(market, "run-e", shops=1, per_shop=5)
        market.app.revoke_run(TENANT, "run-e", "ops-1", batch_size=2)
        publisher = RecordingPublisher()
        while market.app.publish_pending(publisher):
            pass
        batches = [m for m in publisher.messages if m.name == RunItemsReversed.__name__]
        assert [m.payload["count"] for m in batches] == [2, 2, 1]
        assert {m.payload["batch_size"] for m in batches} == {2}

    def test_a_revoked_run_takes_no_more_items(self, market: Marketplace) -> None:
        """An item for a revoked run is refused with a typed error and nothing stored."""
        self._run_items(market, "run-x", shops=1, per_shop=1)
        market.app.revoke_run(TENANT, "run-x", "ops-1")
        with pytest.raises(RunRevoked):
            market.app.record_billing_item(attrs_evolve_run(market.command("r0", "1.00"), "run-x"))

    def test_a_paid_run_is_refused(self, market: Marketplace) -> None:
        """Once a payout holds the run's items, revocation refuses and reverses nothing."""
        market.app.open_run(OpenRun(tenant_id=TENANT, run_id="run-p"))
        self._run_items(market, "run-p", shops=1, per_shop=2)
        market.advance(days=1)
        market.run_jobs()
        with pytest.raises(RunPaidOut):
            market.app.revoke_run(TENANT, "run-p", "ops-1")
        assert market.app.get_run(TENANT, "run-p").status is RunStatus.APPROVED
        assert not [k for k in _keys(market, "r0") if k.startswith(REVERSAL_PREFIX)]

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        amounts=st.lists(st.integers(1, 5000), min_size=1, max_size=14),
        batch=st.integers(1, 5),
        stops=st.lists(st.integers(1, 3), max_size=4),
        close_first=st.booleans(),
    )
    def test_any_batches_and_stops_revoke_exactly_the_run(
        self,
        market: Marketplace,
        amounts: list[int],
        batch: int,
        stops: list[int],
        close_first: bool,
    ) -> None:
        """Whatever the batch size and wherever calls stop, the run nets to zero, once."""
        run_id = f"run-{next(_names)}"
        shops = [f"q{next(_names)}", f"q{next(_names)}"]
        for shop in shops:
            market.shop(shop)
        for n, minor in enumerate(amounts):
            cmd = market.command(shops[n % 2], f"{minor // 100}.{minor % 100:02d}")
            market.app.record_billing_item(attrs_evolve_run(cmd, run_id))
        if close_first:
            market.advance(days=1)
            market.app.close_cycles(market.clock.now())
        for stop in stops:
            market.app.revoke_run(TENANT, run_id, "ops", batch_size=batch, max_batches=stop)
        done = market.app.revoke_run(TENANT, run_id, "ops", batch_size=batch)
        assert done.status is RunStatus.REVOKED and done.reversed == len(amounts)
        for shop in shops:
            items = _items(market, shop)
            assert sum(i.amount_minor for i in items) == 0
            originals = {i.id for i in items if i.run_id == run_id}
            reversed_ids = [i.key.removeprefix(REVERSAL_PREFIX) for i in items if i.run_id is None]
            assert sorted(reversed_ids) == sorted(originals)
        _clean(market)

    def test_a_closed_statement_waits_for_its_reversals(self, market: Marketplace) -> None:
        """Items on a closed statement are reversed on the next one; both pay out together."""
        self._run_items(market, "run-c", shops=1, per_shop=2)
        market.advance(days=1)
        market.app.close_cycles(market.clock.now())
        market.app.revoke_run(TENANT, "run-c", "ops-1")
        _, created = market.run_jobs()
        assert created == ()  # the closed statement waits for the reversing one
        market.advance(days=1)
        _, created = market.run_jobs()
        assert created == ()  # both are payable now and net to zero: nothing to pay
        account = market.app.find_account(TENANT, "r0")
        assert account is not None
        where = StatementFilter(tenant_id=TENANT, account_id=account.id)
        statuses = {s.status for s in market.app.query_statements(where).items}
        assert StatementStatus.OPEN not in statuses
        _clean(market)


def attrs_evolve_run(cmd: RecordBillingItem, run_id: str) -> RecordBillingItem:
    """The command with a run id."""
    return attrs.evolve(cmd, run_id=run_id)
