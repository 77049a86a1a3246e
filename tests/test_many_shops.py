"""Many shops at their rate limits: one run fetches any number of shops at once (not a thread
per shop), each paced by its own limit as the API announces it (Haravan's bucket of whatever
size its header says, the common `X-RateLimit-*` headers, a configured `rate_limit`), never
holding more than the global bound of responses at once, and a failing shop costs the others
nothing."""

from __future__ import annotations

import ssl
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise

import duckdb
import httpx
import pytest
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

from pipelines import cli, models, runner
from pipelines.fetching import PAGES_IN_FLIGHT
from pipelines.http import RetryPolicy, retry_after_seconds, standard_wait
from pipelines.runner import load_shops
from pipelines.shop import RunOptions
from pipelines.warehouse import DUCKDB_MEMORY_LIMIT
from simulators.server import Gauge, LeakyBucket
from tests.helpers import ENFORCED_LIMIT, query, run_load, shop_for
from tests.test_cli import shop_env

PLATFORMS = ("flickrocket", "haravan", "lunasoft", "merchantpro", "spiffy")
MORE_THAN_A_THREAD_PER_SHOP_ALLOWED = 8  # the shops the old runner fetched at once


def orders_by_shop(warehouse) -> dict[str, int]:
    return dict(query(warehouse, "select shop, count(*) from commerce.orders group by shop"))


def test_thirty_rate_limited_shops_are_fetched_at_once_within_the_global_bound(
    simulator, warehouse
):
    gauge = Gauge()  # requests being answered at once, across all 30 simulators
    shops, sims = [], []
    for number in range(30):
        platform = PLATFORMS[number % len(PLATFORMS)]
        # a slow API (half a second an answer, so that each shop is still fetching while the
        # others start, even on a busy machine) with its documented limit: Haravan's bucket,
        # the others 2 requests a second announced in X-RateLimit-* headers
        sim = simulator(platform, orders=8, seed=number, latency=0.5, rate_limit=True, gauge=gauge)
        sims.append(sim)
        shops.append(shop_for(platform, sim, name=f"shop-{number:02}", page_size=4))
    patient = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.2, timeout=10.0)
    results = load_shops(shops, warehouse, RunOptions(started_at=datetime.now(UTC), retry=patient))
    assert all(result.ok for result in results), [r.error for r in results if not r.ok]
    assert orders_by_shop(warehouse) == {shop.name: 8 for shop in shops}
    assert MORE_THAN_A_THREAD_PER_SHOP_ALLOWED < gauge.peak <= PAGES_IN_FLIGHT, gauge.peak
    throttled = sum(sim.throttled for sim in sims)
    assert throttled <= 2, throttled  # paced by the headers, not by 429s


def test_a_larger_bucket_in_haravans_header_is_used_beyond_80_calls(simulator, warehouse):
    bucket = LeakyBucket(capacity=400, leak_per_second=4.0)  # a plan with a larger bucket
    sim = simulator("haravan", orders=120, rate_limit=bucket)
    started = time.monotonic()
    [result] = run_load([shop_for("haravan", sim, page_size=1)], warehouse)  # 122 calls
    assert result.ok, result.error
    assert bucket.peak > 80 and sim.throttled == 0
    # held to a bucket of 80 it would have waited (122 - 72) / 4 = 12.5 s for the leak
    assert time.monotonic() - started < 12


def test_a_configured_rate_limit_spaces_a_shops_requests(simulator, warehouse):
    sim = simulator("spiffy", orders=12)
    arrivals: list[float] = []
    sim.hooks.append(lambda _: arrivals.append(time.monotonic()))
    shop = shop_for("spiffy", sim, page_size=4, options={"rate_limit": "5"})
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert result.stats.requests == len(arrivals) == 5  # 3 pages, the empty one, the count
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert min(gaps) >= 0.9 / 5  # 5 a second, with room for the clocks


def test_failing_shops_among_many_cost_the_others_nothing(simulator, warehouse):
    shops = []
    for number in range(12):
        platform = PLATFORMS[number % len(PLATFORMS)]
        sim = simulator(platform, orders=10, seed=number)
        shop = shop_for(platform, sim, name=f"shop-{number:02}")
        if number == 3:
            sim.inject(["500"] * 20)
        if number == 7:
            shop = shop_for(platform, sim, name="refused", secrets={"api_key": "wrong"})
        shops.append(shop)
    results = run_load(shops, warehouse)
    failed = {r.shop.name: r.error for r in results if not r.ok}
    assert sorted(failed) == ["refused", "shop-03"]
    assert "HTTP 500" in failed["shop-03"] and "HTTP 401" in failed["refused"]
    assert orders_by_shop(warehouse) == {s.name: 10 for s in shops if s.name not in failed}


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "2"}, 0.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1.5"}, 1.5),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "7"}, 7.0),
        ({"RateLimit": "limit=10, remaining=0, reset=4"}, 4.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2000000003"}, 3.0),  # Unix time
        ({"X-RateLimit-Remaining": "0"}, 0.0),  # no reset: nothing to pace by
        ({}, 0.0),
    ],
)
def test_the_common_rate_limit_headers_say_how_long_to_wait(headers, wait):
    assert standard_wait(httpx.Headers(headers), now=2_000_000_000) == pytest.approx(wait)


def test_a_retry_after_date_is_honoured():
    moment = datetime.fromtimestamp(time.time() + 30, UTC)
    response = httpx.Response(
        429, headers={"Retry-After": moment.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    assert 25 < (retry_after_seconds(response) or 0) <= 30


def test_a_load_opens_the_duckdb_file_once_for_its_shops_and_its_models(
    simulator, warehouse, monkeypatch
):
    """The writer lock's check that the file is writable opens it, and that connection serves
    the whole command: every shop's load, the run's own queries (which shops the warehouse
    knows, the runs recorded) and the models' rebuild, which then reads what the loads have
    just written from memory. Opening the file (and checkpointing it on closing) for each
    shop's load was a quarter of a small shop's; for the models, a tenth of a second and a
    cold read of the warehouse. All of it runs under the loads' memory limit, the models too:
    the limit DuckDB enforces, not the setting's value, which `RESET memory_limit` changes
    alone (the models ran under the loads' limit while it said DuckDB's own)."""
    for platform in PLATFORMS:
        for name, value in shop_env(platform, simulator(platform, orders=20), platform).items():
            monkeypatch.setenv(name, value)
    opened = []
    connect = duckdb.connect

    def counted(database=":memory:", *args, **kwargs):
        if str(database) == str(warehouse):
            opened.append(database)
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counted)
    models_limits, loads_limits = [], []
    refresh = models.refresh

    def noted(db):
        models_limits.extend(db.rows(ENFORCED_LIMIT))
        return refresh(db)

    monkeypatch.setattr(models, "refresh", noted)
    open_connection = DuckDbSqlClient.open_connection

    def opened_for_a_load(client):
        con = open_connection(client)
        loads_limits.extend(con.sql(ENFORCED_LIMIT).fetchall())
        return con

    monkeypatch.setattr(DuckDbSqlClient, "open_connection", opened_for_a_load)
    assert cli.main(["load", "--warehouse", str(warehouse)]) == 0
    assert len(opened) == 1, opened
    with connect() as fresh:
        fresh.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        limited = fresh.execute(ENFORCED_LIMIT).fetchone()
    assert models_limits == [limited]
    # each shop's load, after the run's own queries on the connection, under the loads' limit
    assert len(loads_limits) >= len(PLATFORMS) and set(loads_limits) == {limited}
    assert sum(orders_by_shop(warehouse).values()) == 5 * 20


def test_the_loads_are_checkpointed_into_the_file_before_the_models_are_rebuilt(
    simulator, warehouse, monkeypatch
):
    """The rebuild and the checkpoint as the file closed held DuckDB's memory for the loads'
    data and the models' at once: the peak of a backfill's whole process tree."""
    for name, value in shop_env("haravan", simulator("haravan", orders=20), "north").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runner, "IDLE_SECONDS", 60.0)  # no checkpoint while idle
    wal = warehouse.with_name(warehouse.name + ".wal")
    written = []
    refresh = models.refresh

    def noted(db):
        written.append(wal.exists() and wal.stat().st_size > 0)
        return refresh(db)

    monkeypatch.setattr(models, "refresh", noted)
    assert cli.main(["load", "--warehouse", str(warehouse)]) == 0
    assert written == [False], written  # nothing left in the write-ahead log
    assert orders_by_shop(warehouse) == {"north": 20}


def test_the_shops_of_a_run_share_one_tls_context(simulator, warehouse, monkeypatch):
    """Each client making its own loads the certificate authorities again: seconds of CPU
    for a run of many shops, before their first requests."""
    sims = [simulator(platform, orders=5) for platform in PLATFORMS]
    shops = [shop_for(platform, sim) for platform, sim in zip(PLATFORMS, sims, strict=True)]
    made = []
    create = ssl.create_default_context
    monkeypatch.setattr(
        ssl, "create_default_context", lambda *a, **k: made.append(1) or create(*a, **k)
    )
    assert all(result.ok for result in run_load(shops, warehouse))
    assert len(made) <= 1


def test_a_shop_still_fetching_is_extracted_and_the_file_checkpointed_while_the_loader_idles(
    simulator, warehouse, monkeypatch
):
    """A run's slowest fetches would otherwise leave all their mapping and extraction, and
    DuckDB's checkpoint of every load, until their last pages arrive."""
    monkeypatch.setattr(runner, "IDLE_SECONDS", 0.05)
    began_while_fetching = threading.Event()
    extract = runner._extract

    def noted(run, *args):
        if run.result.shop.name == "slow" and not run.spool.done:
            began_while_fetching.set()
        return extract(run, *args)

    monkeypatch.setattr(runner, "_extract", noted)
    wal = warehouse.with_name(warehouse.name + ".wal")
    seen = {}

    def hold_the_third_page(request: int) -> None:
        if request == 3:  # two pages spooled, the fast shop loaded (and its load in the log)
            seen["extracting"] = began_while_fetching.wait(timeout=5)
            deadline = time.monotonic() + 5
            while wal.exists() and wal.stat().st_size and time.monotonic() < deadline:
                time.sleep(0.01)
            seen["checkpointed"] = not (wal.exists() and wal.stat().st_size)

    fast, slow = simulator("haravan", orders=5), simulator("spiffy", orders=12, seed=1)
    slow.hooks.append(hold_the_third_page)
    shops = [
        shop_for("haravan", fast, name="fast"),
        shop_for("spiffy", slow, name="slow", page_size=4),
    ]
    patient = RetryPolicy(attempts=1, timeout=30.0)  # the third page is held up to 10 s
    results = load_shops(shops, warehouse, RunOptions(datetime.now(UTC), retry=patient))
    assert all(result.ok for result in results), [r.error for r in results]
    assert seen == {"extracting": True, "checkpointed": True}
    assert orders_by_shop(warehouse) == {"fast": 5, "slow": 12}


def test_a_backfill_ready_early_while_those_threads_are_busy_is_extracted_once_fetched(
    simulator, warehouse, monkeypatch
):
    """A large backfill that has spooled enough to begin while every thread for extracting
    during a fetch is taken (by shops begun while the loader was idle) begins on the pool of
    finished fetches once its own fetch ends, not behind theirs."""
    monkeypatch.setattr(runner, "IDLE_SECONDS", 0.05)
    monkeypatch.setattr(runner, "EXTRACTIONS_WHILE_FETCHING", 1)
    monkeypatch.setattr(runner, "READ_EARLY_ORDERS", 4)
    slow_began, large_loaded = threading.Event(), threading.Event()
    extract, load = runner._extract, runner._load

    def noted_extract(run, *args):
        if run.result.shop.name == "slow" and not run.spool.done:
            slow_began.set()
        return extract(run, *args)

    def noted_load(warehouse, pipeline, result):
        load(warehouse, pipeline, result)
        if result.shop.name == "large":
            large_loaded.set()

    monkeypatch.setattr(runner, "_extract", noted_extract)
    monkeypatch.setattr(runner, "_load", noted_load)
    seen = {}

    def hold_until_slow_extracts(request: int) -> None:
        if request == 1:  # the slow shop takes the one thread first
            seen["slow began"] = slow_began.wait(timeout=5)

    def hold_until_large_loads(request: int) -> None:
        if request == 3:
            seen["large loaded"] = large_loaded.wait(timeout=5)

    slow, large = simulator("spiffy", orders=12, seed=1), simulator("haravan", orders=20)
    slow.hooks.append(hold_until_large_loads)
    large.hooks.append(hold_until_slow_extracts)
    shops = [
        shop_for("spiffy", slow, name="slow", page_size=4),
        shop_for("haravan", large, name="large", page_size=4),
    ]
    patient = RetryPolicy(attempts=1, timeout=30.0)  # requests are held up to 5 s
    results = load_shops(shops, warehouse, RunOptions(datetime.now(UTC), retry=patient))
    assert all(result.ok for result in results), [r.error for r in results]
    assert seen == {"slow began": True, "large loaded": True}
    assert orders_by_shop(warehouse) == {"slow": 12, "large": 20}
