"""Behaviour every source shares, proved per platform against its simulator over loopback:
a full load equals the source to the cent, a rerun without changes changes nothing, every kind
of change is picked up by the next run, faults are survived, and shops stay independent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pytest

from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import query, run_load, shop_for
from transforms.tables import TABLES

PLATFORMS = sorted(SIMULATORS)
SNAPSHOT_TABLES = (
    "orders",
    "order_lines",
    "refunds",
    "refund_lines",
    "transactions",
    "tax_lines",
    "discounts",
    "shipping_lines",
    "fulfillments",
    "order_status_history",
    "raw_orders",
)


def snapshot(warehouse: Path) -> dict[str, list[str]]:
    return {
        t: sorted(map(repr, query(warehouse, f"select * from commerce.{t}")))
        for t in SNAPSHOT_TABLES
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_full_load_equals_the_source_to_the_cent(platform, simulator, warehouse):
    sim = simulator(platform, orders=180)
    shop = shop_for(platform, sim, page_size=50)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert result.stats.pages > 1  # the load really paged
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, sim.store)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_rerun_without_changes_reads_one_page_and_changes_nothing(platform, simulator, warehouse):
    sim = simulator(platform, orders=120)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    before = snapshot(warehouse)
    sim.requests.clear()
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert result.stats.pages <= 1
    assert len(sim.requests) <= 2  # one page (FlickRocket confirms the end with an empty one)
    assert result.stats.orders == 0  # nothing unchanged is loaded again
    assert snapshot(warehouse) == before


@pytest.mark.parametrize("platform", PLATFORMS)
def test_loads_mapped_by_worker_processes_equal_the_source(
    platform, simulator, warehouse, monkeypatch
):
    import pipelines.mapping

    monkeypatch.setattr(pipelines.mapping, "CHUNK_ORDERS", 30)
    started = []
    real_pool = pipelines.mapping.MappingPool._pool
    monkeypatch.setattr(
        pipelines.mapping.MappingPool, "_pool", lambda self: started.append(1) or real_pool(self)
    )
    sim = simulator(platform, orders=150)
    shop = shop_for(platform, sim, page_size=50)
    assert run_load([shop], warehouse)[0].ok
    assert len(started) >= 3  # chunks went to the workers
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, sim.store)
    store = sim.store
    changed = [o for o in store.visible() if o.cancelled_at is None and not o.refunds][-3:]
    store.add_orders(40)
    store.refund(changed[0].id, partial=True)
    store.cancel(changed[1].id)
    store.remove_line(changed[2].id)
    assert run_load([shop], warehouse)[0].ok
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, store)
    counts = query(warehouse, "select count(*), count(distinct order_id) from commerce.orders")
    assert counts == [(len(store.visible()),) * 2]


def test_mapping_workers_do_without_pandas():
    """pyarrow imports pandas (50 MB a process) on its first array built from a list, only to
    ask whether the list is a data frame; the workers never have one."""
    from pipelines.mapping import MappingPool

    with MappingPool(workers=1) as pool:
        assert pool._pool().submit(pandas_after_building_an_array).result() is False
    assert pandas_after_building_an_array() is True  # where it is allowed, it is imported


def test_mapping_workers_import_what_mapping_needs_and_nothing_of_fetching_or_loading():
    """Each worker imported the HTTP client (httpx, its command line's click, rich and
    pygments, tenacity) with the job it was sent: 0.18 s of CPU a worker as a load begins."""
    from pipelines.mapping import MappingPool
    from tests import worker_probe

    with MappingPool(workers=1) as pool:
        loaded = pool._pool().submit(worker_probe.libraries).result()
    assert {"transforms", "pyarrow", "orjson"} <= loaded
    assert not loaded & {"httpx", "click", "rich", "tenacity", "dlt", "duckdb"}


def test_closing_the_mapping_pool_stops_the_fork_server_it_started():
    """The fork server stayed alive, idle, until the loading process ended: 44 MB of the
    peak of a backfill, which comes in its load step, after the mapping."""
    from multiprocessing import forkserver

    from pipelines.mapping import MappingPool, stop_fork_server

    stop_fork_server()  # whatever an earlier test left
    with MappingPool(workers=1) as pool:
        assert pool._pool().submit(os.getpid).result() != os.getpid()
        server = forkserver._forkserver._forkserver_pid
        os.kill(server, 0)  # it runs
    with pytest.raises(ProcessLookupError):
        os.kill(server, 0)
    with MappingPool(workers=1) as pool:  # and starts again for the next pool
        assert pool._pool().submit(os.getpid).result() != os.getpid()


def test_a_mapping_pool_closing_leaves_the_fork_server_to_another_pool_still_mapping():
    """Two sources used on their own in one pipeline (dlt extracts them in turns) each have a
    pool of their own, sharing the fork server: stopping it under the other pool's workers
    would break that pool (their exits are reported by the server)."""
    from multiprocessing import forkserver

    from pipelines.mapping import MappingPool, stop_fork_server

    stop_fork_server()  # whatever an earlier test left
    first, second = MappingPool(workers=1), MappingPool(workers=1)
    assert first._pool().submit(os.getpid).result() != os.getpid()
    assert second._pool().submit(os.getpid).result() != os.getpid()
    first.close()
    assert second._pool().submit(os.getpid).result() != os.getpid()
    server = forkserver._forkserver._forkserver_pid
    second.close()
    with pytest.raises(ProcessLookupError):  # stopped with the last pool
        os.kill(server, 0)


def test_closing_the_mapping_pool_leaves_a_fork_server_it_did_not_start():
    """Processes that someone else forked from it may still run: it reports their exits."""
    from multiprocessing import forkserver

    from pipelines.mapping import MappingPool, stop_fork_server

    forkserver.ensure_running()
    server = forkserver._forkserver._forkserver_pid
    try:
        with MappingPool(workers=1) as pool:
            assert pool._pool().submit(os.getpid).result() != os.getpid()
        os.kill(server, 0)  # still runs
    finally:
        stop_fork_server()


def pandas_after_building_an_array() -> bool:
    """Whether pandas is imported once an arrow array is built from a list (module-level: it
    runs in a worker)."""
    import pyarrow as pa

    pa.array([1, 2])
    return sys.modules.get("pandas") is not None


def test_a_shop_whose_loading_state_was_lost_is_merged_not_duplicated(
    simulator, warehouse, tmp_path
):
    import shutil

    sim = simulator("haravan", orders=80)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok  # a first load: appended
    shutil.rmtree(tmp_path / ".shopduck")  # the pipeline folder, with the cursor, is gone
    sim.store.refund(sim.store.visible()[-1].id, partial=False)
    assert run_load([shop], warehouse)[0].ok
    assert warehouse_totals(warehouse, "haravan", shop.name) == expected_totals(
        "haravan", sim.store
    )
    for table in [table for table in TABLES if table.name in SNAPSHOT_TABLES]:
        duplicated = query(
            warehouse,
            f"select {', '.join(table.key)} from commerce.{table.name} "
            "group by all having count(*) > 1",
        )
        assert duplicated == [], table.name  # every row of every table loaded once


@pytest.mark.parametrize("platform", PLATFORMS)
def test_next_run_picks_up_new_orders_refunds_cancellations_and_edits(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=150)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    store = sim.store
    recent = [
        o for o in store.visible() if o.cancelled_at is None and not o.refunds and len(o.lines) > 1
    ]
    refunded, cancelled, trimmed = recent[-1].id, recent[-2].id, recent[-3].id
    removed_line = store.orders[trimmed].lines[-1].id
    store.add_orders(6)
    store.refund(refunded, partial=False)
    store.cancel(cancelled)
    store.remove_line(trimmed)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, store)
    assert query(
        warehouse, "select count(*) from commerce.refunds where order_id = ?", [str(refunded)]
    ) != [(0,)]
    assert query(
        warehouse,
        "select count(*) from commerce.order_lines where line_id = ?",
        [str(removed_line)],
    ) == [(0,)]
    from pipelines.models import refresh_models

    refresh_models(warehouse)
    assert query(
        warehouse, "select is_cancelled from reporting.orders where order_id = ?", [str(cancelled)]
    ) == [(True,)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_order_deleted_while_paging_makes_no_other_order_go_missing(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=90)
    early = [o.id for o in sim.store.visible()[:10]]

    def delete_an_already_read_order(request_number: int) -> None:
        if request_number == 2:
            sim.store.delete(early[3])

    sim.hooks.append(delete_an_already_read_order)
    [result] = run_load([shop_for(platform, sim, page_size=20)], warehouse)
    assert result.ok, result.error
    loaded = {row[0] for row in query(warehouse, "select order_id from commerce.orders")}
    assert {str(o.id) for o in sim.store.visible()} <= loaded


@pytest.mark.parametrize("platform", ["flickrocket", "spiffy"])  # shop handling is shared
def test_two_shops_of_a_platform_load_side_by_side_and_fail_alone(platform, simulator, warehouse):
    north, south = simulator(platform, orders=40, seed=1), simulator(platform, orders=30, seed=2)
    broken = simulator(platform, orders=10, seed=3)
    broken.inject(["500"] * 20)
    shops = [
        shop_for(platform, north, name="north"),
        shop_for(platform, south, name="south"),
        shop_for(platform, broken, name="broken"),
    ]
    results = run_load(shops, warehouse)
    assert [r.ok for r in results] == [True, True, False]
    assert "broken" in results[2].error and "500" in results[2].error
    counts = dict(query(warehouse, "select shop, count(*) from commerce.orders group by shop"))
    assert counts == {"north": 40, "south": 30}
    north.store.add_orders(2)
    assert all(r.ok for r in run_load(shops[:2], warehouse))
    counts = dict(query(warehouse, "select shop, count(*) from commerce.orders group by shop"))
    assert counts == {"north": 42, "south": 30}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_credential_or_password_reaches_the_warehouse(platform, simulator, warehouse):
    sim = simulator(platform, orders=40)
    assert run_load([shop_for(platform, sim)], warehouse)[0].ok
    import duckdb

    secrets = list(SIMULATORS[platform].credentials.values())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        dump = " ".join(
            repr(con.execute(f'select * from "{schema}"."{name}"').fetchall())
            for schema, name in tables
        )
    for forbidden in [*secrets, "password", "card_last_4", "credit_card_number", "-secret"]:
        assert forbidden not in dump


def test_loaded_files_do_not_pile_up_in_the_pipeline_folder(simulator, warehouse, tmp_path):
    sim = simulator("spiffy", orders=60)
    shop = shop_for("spiffy", sim)
    assert run_load([shop], warehouse)[0].ok
    sim.store.add_orders(3)
    assert run_load([shop], warehouse)[0].ok
    assert list((tmp_path / ".shopduck").rglob("*.parquet")) == []


def test_order_payloads_are_stored_with_zstd_on_first_and_later_loads(simulator, warehouse):
    sim = simulator("haravan", orders=60)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok
    sim.store.add_orders(3)
    assert run_load([shop], warehouse)[0].ok
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")
        stored = con.execute(
            "select distinct compression from pragma_storage_info('commerce.raw_orders') "
            "where column_name = 'payload' and segment_type = 'JSON'"
        ).fetchall()
        loaded = con.execute("select count(*) from commerce.raw_orders").fetchone()
    assert stored == [("ZSTD",)]
    assert loaded == (63,)
