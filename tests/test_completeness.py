"""Completeness you can prove: `--since` never moves a cursor past unread time, runs are counted
against the API's own count, reconciliation heals what the incremental runs missed, and an
order served twice in one load is stored once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.reconcile import reconcile_shops
from pipelines.runner import load_shops
from pipelines.shop import RunOptions
from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import FAST_RETRY, query, run_load, shop_for

PLATFORMS = sorted(SIMULATORS)
CHILD_TABLES = (
    "order_lines",
    "tax_lines",
    "discounts",
    "shipping_lines",
    "raw_orders",
    "quarantine",
)


def load_at(shops, warehouse, moment: datetime, **options):
    """A load whose run starts at `moment` (the simulated shop's clock may be ahead of ours)."""
    run = RunOptions(started_at=moment, retry=FAST_RETRY, **options)
    return load_shops(shops, warehouse, run)


def at(store, moment: datetime) -> None:
    """Set the simulated shop's clock: mutations from now on happen at `moment`."""
    store.clock = lambda: moment.replace(microsecond=0)


def loaded_ids(warehouse, shop) -> set[str]:
    return {
        order_id
        for (order_id,) in query(
            warehouse, "select order_id from commerce.orders where shop = ?", [shop.name]
        )
    }


def recent_untouched_order(store, older_than: timedelta, now: datetime):
    """An order created within the trailing window but before `now - older_than`, still open."""
    return next(
        o
        for o in store.visible()
        if timedelta(days=3) < now - o.created_at < timedelta(days=20)
        and now - o.updated_at > older_than
        and o.cancelled_at is None
        and not o.refunds
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_since_after_a_pause_reads_from_the_stored_cursor_not_from_since(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=120)
    shop = shop_for(platform, sim)
    start = datetime.now(UTC)
    assert all(r.ok for r in load_at([shop], warehouse, start))
    target = recent_untouched_order(sim.store, timedelta(hours=1), start)
    at(sim.store, start + timedelta(hours=1))
    sim.store.cancel(target.id)  # changed after the cursor, before --since
    [result] = load_at(
        [shop], warehouse, start + timedelta(hours=3), since=start + timedelta(hours=2)
    )
    assert result.ok, result.error
    assert query(
        warehouse, "select updated_at from commerce.orders where order_id = ?", [str(target.id)]
    ) == [(sim.store.orders[target.id].updated_at,)]
    assert all(r.ok for r in load_at([shop], warehouse, start + timedelta(hours=4)))
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, sim.store)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_since_on_a_new_warehouse_then_plain_loads_lose_nothing_changed_since_that_date(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=150)
    shop = shop_for(platform, sim)
    now = datetime.now(UTC)
    since = now - timedelta(days=5)
    store = sim.store
    old_but_changed = recent_untouched_order(store, timedelta(days=6), now)
    at(store, now - timedelta(days=2))
    store.refund(old_but_changed.id, partial=False)  # created before --since, changed after it
    assert all(r.ok for r in load_at([shop], warehouse, now, since=since))
    later = next(
        o
        for o in store.visible()
        if o.updated_at < since
        and o.cancelled_at is None
        and str(o.id) not in loaded_ids(warehouse, shop)
        and timedelta(days=3) < now - o.created_at < timedelta(days=20)
    )
    at(store, now + timedelta(hours=1))
    store.cancel(later.id)
    store.add_orders(3)
    assert all(r.ok for r in load_at([shop], warehouse, now + timedelta(hours=2)))
    changed_since = {str(o.id) for o in store.visible() if o.updated_at >= since}
    assert {str(old_but_changed.id), str(later.id)} <= changed_since
    assert loaded_ids(warehouse, shop) == changed_since


def test_a_first_load_with_since_is_shown_as_a_partial_backfill(simulator, warehouse, capsys):
    sim = simulator("haravan", orders=40)
    since = datetime.now(UTC) - timedelta(days=10)
    assert run_load([shop_for("haravan", sim)], warehouse, since=since)[0].ok
    assert cli.main(["status", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert f"history from {since:%Y-%m-%d}" in out


def test_lookback_minutes_zero_in_config_toml_means_zero(tmp_path):
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[sources.haravan]\nbase_url = "http://127.0.0.1:9"\nlookback_minutes = 0\n'
    )
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipelines.config import configured_shops;"
            " print(configured_shops(['haravan'])[0].lookback_minutes)",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == "0", shown.stderr


def hide_an_order_from_every_list(sim, envelope: str) -> None:
    """The API silently never lists one order that it has (and counts)."""
    hidden = sim.store.visible()[30].id

    def rewrite(path: str, body):
        if isinstance(body, dict) and isinstance(body.get(envelope), list):
            body = {**body, envelope: [r for r in body[envelope] if r.get("id") != hidden]}
        return body

    sim.rewrites.append(rewrite)


COUNTED = {"flickrocket": "orders", "haravan": "orders", "spiffy": "orders", "merchantpro": "data"}


@pytest.mark.parametrize("platform", sorted(COUNTED))
def test_a_gap_between_the_apis_count_and_what_was_fetched_is_recorded_and_shown(
    platform, simulator, warehouse, capsys, caplog
):
    sim = simulator(platform, orders=90)
    shop = shop_for(platform, sim, page_size=20)
    hide_an_order_from_every_list(sim, COUNTED[platform])
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert (result.stats.expected, result.stats.fetched) == (90, 89)
    assert f"{platform}/{shop.name}" in caplog.text and "1 missing" in caplog.text
    assert query(
        warehouse, "select expected, fetched from commerce.load_runs where shop = ?", [shop.name]
    ) == [(90, 89)]
    assert cli.main(["status", "--warehouse", str(warehouse)]) == 0
    assert "89 of 90" in capsys.readouterr().out


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_run_with_nothing_new_makes_at_most_two_requests(platform, simulator, warehouse):
    sim = simulator(platform, orders=60)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    if platform in ("merchantpro", "lunasoft"):
        return  # creation windows: their requests are counted by the benchmark
    sim.requests.clear()
    [result] = run_load([shop], warehouse)
    assert result.ok and result.stats.fetched == 0
    assert len(sim.requests) <= 2


def remove_from_warehouse(warehouse, order_id: str) -> None:
    import duckdb

    with duckdb.connect(str(warehouse)) as con:
        for table in ("orders", "order_lines", "tax_lines", "raw_orders", "transactions"):
            con.execute(f"delete from commerce.{table} where order_id = ?", [order_id])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_reconcile_fetches_missing_orders_refreshes_stale_ones_and_flags_deleted(
    platform, simulator, warehouse
):
    import duckdb

    sim = simulator(platform, orders=70)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    orders = sim.store.visible()
    missing, stale, gone = orders[5], orders[20], orders[30]
    remove_from_warehouse(warehouse, str(missing.id))
    with duckdb.connect(str(warehouse)) as con:  # a change whose updated_at was never seen
        con.execute(
            "update commerce.orders set total_price = 0, updated_at = updated_at - interval 1 day"
            " where order_id = ?",
            [str(stale.id)],
        )
    sim.store.delete(gone.id)
    options = RunOptions(started_at=datetime.now(UTC), retry=FAST_RETRY)
    [result] = reconcile_shops([shop], warehouse, options)
    assert result.error is None
    assert (
        result.source_count,
        result.warehouse_count,
        result.fetched_missing,
        result.refreshed_stale,
        result.flagged_deleted,
    ) == (69, 69, 1, 1, 1)
    assert warehouse_totals(warehouse, platform, shop.name) != {}
    assert query(
        warehouse, "select total_price > 0 from commerce.orders where order_id = ?", [str(stale.id)]
    ) == [(True,)]
    assert query(
        warehouse, "select is_deleted from commerce.orders where order_id = ?", [str(gone.id)]
    ) == [(True,)]
    live = query(
        warehouse,
        "select count(*) from commerce.orders where shop = ? and not is_deleted",
        [shop.name],
    )
    assert live == [(69,)]
    [row] = query(
        warehouse,
        "select source_count, warehouse_count, fetched_missing, refreshed_stale, flagged_deleted"
        " from commerce.load_runs where shop = ? and source_count is not null",
        [shop.name],
    )
    assert row == (69, 69, 1, 1, 1)
    [again] = reconcile_shops([shop], warehouse, options)
    assert (again.fetched_missing, again.refreshed_stale, again.flagged_deleted) == (0, 0, 0)


def serve_again(sim, envelope: str, on_response: int, order_id: int, change) -> None:
    """The API serves an order a second time, in list response number `on_response`, changed
    by `change(payload)` (as when an order is edited while the load pages)."""
    lists = []

    def rewrite(path: str, body):
        if isinstance(body, dict) and isinstance(body.get(envelope), list) and body[envelope]:
            lists.append(path)
            if len(lists) == on_response:
                copy = change(dict(sim.renderer.payload(sim.store.orders[order_id])))
                body = {**body, envelope: [*body[envelope], copy]}
        return body

    sim.rewrites.append(rewrite)


def newer_without_its_last_line(payload: dict) -> dict:
    stamp = datetime.fromisoformat(payload["updated_at"]) + timedelta(seconds=30)
    return {**payload, "updated_at": stamp.isoformat(), "line_items": payload["line_items"][:-1]}


@pytest.mark.parametrize("first_load", [True, False])
@pytest.mark.parametrize(
    "chunk, batch", [(1000, 1000), (10, 1000), (10, 20)], ids=["one-chunk", "chunks", "batches"]
)
def test_an_order_served_twice_is_stored_once_with_the_children_of_its_latest_copy(
    first_load, chunk, batch, simulator, warehouse, monkeypatch
):
    import pipelines.mapping
    import pipelines.source

    monkeypatch.setattr(pipelines.mapping, "CHUNK_ORDERS", chunk)
    monkeypatch.setattr(pipelines.source, "BATCH_ORDERS", batch)
    sim = simulator("haravan", orders=60)
    shop = shop_for("haravan", sim, page_size=10)
    if not first_load:
        assert run_load([shop], warehouse)[0].ok
        for order in sim.store.visible():
            sim.store.touch(order.id)  # every order is read again, merged
    twice = next(o for o in sim.store.visible()[:10] if len(o.lines) > 1)
    serve_again(sim, "orders", 4, twice.id, newer_without_its_last_line)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    counts = query(warehouse, "select count(*), count(distinct order_id) from commerce.orders")
    assert counts == [(60, 60)]
    lines = query(
        warehouse, "select line_id from commerce.order_lines where order_id = ?", [str(twice.id)]
    )
    assert sorted(lines) == sorted((str(line.id),) for line in twice.lines[:-1])
    for table in CHILD_TABLES:
        assert query(
            warehouse,
            f"select count(*) from (select distinct * from commerce.{table}) as d",
        ) == query(warehouse, f"select count(*) from commerce.{table}")
    assert query(
        warehouse, "select count(*) from commerce.raw_orders where order_id = ?", [str(twice.id)]
    ) == [(1,)]
    assert result.stats.fetched == 60


def test_money_totals_of_an_order_served_twice_are_counted_once(simulator, warehouse):
    sim = simulator("spiffy", orders=40)
    shop = shop_for("spiffy", sim, page_size=10)
    twice = sim.store.visible()[3]
    serve_again(sim, "orders", 3, twice.id, lambda payload: payload)
    assert run_load([shop], warehouse)[0].ok
    assert warehouse_totals(warehouse, "spiffy", shop.name) == expected_totals("spiffy", sim.store)
