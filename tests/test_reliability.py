"""Reliability: faults on full and incremental loads, one shop failing alone, crash safety,
deletions found by reconciliation, bad input quarantined, concurrent loads, and secrets."""

from __future__ import annotations

import fcntl
import os
import random
import signal
import string
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from pipelines.reconcile import reconcile_shops
from pipelines.shop import RunOptions
from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import FAST_RETRY, held_by_another_process, query, run_load, shop_for

PLATFORMS = sorted(SIMULATORS)


def configure(monkeypatch, platform, sim, name=None, **extra):
    """Configure a shop the way a user does: environment variables."""
    prefix = f"SOURCES__{platform.upper()}__"
    values = {
        "BASE_URL": sim.base_url,
        **{k.upper(): v for k, v in SIMULATORS[platform].credentials.items()},
        **{k.upper(): v for k, v in SIMULATORS[platform].options.items()},
        **extra,
    }
    if name:
        prefix += f"SHOPS__{name.upper()}__"
    for key, value in values.items():
        monkeypatch.setenv(prefix + key, str(value))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_full_and_incremental_loads_complete_through_every_kind_of_fault(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=90)
    sim.slow_seconds = 1.3  # past the tests' 1 s read timeout
    shop = shop_for(platform, sim, page_size=30)
    sim.inject(["429", "500", "slow", "cut", "truncated"])
    assert run_load([shop], warehouse)[0].ok
    sim.store.add_orders(4)
    sim.store.refund(sim.store.visible()[-6].id, partial=False)
    sim.inject(["429-bare", "502", "503", "slow", "truncated"])
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, sim.store)


def test_a_failing_shop_is_named_the_run_exits_non_zero_and_the_others_load(
    simulator, warehouse, monkeypatch, capsys
):
    good, bad = simulator("haravan", orders=30), simulator("spiffy", orders=20)
    bad.inject(["503"] * 100)
    configure(monkeypatch, "haravan", good, SHOP="good-shop")
    configure(monkeypatch, "spiffy", bad, SHOP="bad-shop")
    monkeypatch.setenv("SHOPDUCK__RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("SHOPDUCK__RETRY_INITIAL_WAIT", "0.01")
    code = cli.main(["load", "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 1
    failure, summary = [line for line in err.splitlines() if line.startswith("shopduck:")]
    assert summary == "shopduck: 1 of 2 shop runs failed; the others loaded"
    assert "bad-shop" in failure and "good-shop" not in failure
    assert f"GET {bad.base_url}/api/orders.json?status=any" in failure
    assert "failed after 2 attempts: HTTP 503" in failure
    assert query(warehouse, "select shop, count(*) from commerce.orders group by shop") == [
        ("good-shop", 30)
    ]
    good.requests.clear()
    assert cli.main(["load", "--warehouse", str(warehouse), "--platform", "haravan"]) == 0
    assert all("updated_at_min" in r for r in good.requests)  # the good shop's cursor advanced


def test_an_html_error_page_gives_a_clear_error(simulator, warehouse):
    sim = simulator("haravan", orders=10)
    sim.inject(["html"])
    [result] = run_load([shop_for("haravan", sim)], warehouse)
    assert not result.ok and "HTML page, not JSON" in result.error


def test_http_is_refused_for_anything_but_loopback(warehouse):
    from pipelines.shop import Shop

    shop = Shop("haravan", "remote", "http://shop.example.com", {"access_token": "t0ken-x"})
    [result] = run_load([shop], warehouse)
    assert not result.ok and "must use https" in result.error and "t0ken-x" not in result.error


@pytest.mark.parametrize("platform", PLATFORMS)
def test_reconcile_flags_deleted_orders_and_unflags_returning_ones(platform, simulator, warehouse):
    sim = simulator(platform, orders=70)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    gone = sim.store.visible()[10]
    sim.store.delete(gone.id)
    sim.requests.clear()
    options = RunOptions(
        started_at=__import__("datetime").datetime.now(__import__("datetime").UTC), retry=FAST_RETRY
    )
    [result] = reconcile_shops([shop], warehouse, options)
    assert (result.error, result.source_count, result.flagged_deleted, result.restored) == (
        None,
        69,
        1,
        0,
    )
    if platform != "lunasoft":  # Lunasoft has no field selection
        assert all("fields=id" in r and "include" not in r for r in sim.requests)
    flagged = query(warehouse, "select order_id from commerce.orders where is_deleted")
    assert flagged == [(str(gone.id),)]
    from pipelines.models import refresh_models

    refresh_models(warehouse)
    assert query(
        warehouse, "select count(*) from reporting.orders where order_id = ?", [str(gone.id)]
    ) == [(0,)]
    sim.store.orders[gone.id] = gone  # it comes back
    [result] = reconcile_shops([shop], warehouse, options)
    assert (result.flagged_deleted, result.restored) == (0, 1)
    assert query(warehouse, "select count(*) from commerce.orders where is_deleted") == [(0,)]


BAD_INPUT = {
    "haravan": [
        ("total_price", "12,50"),
        ("created_at", "yesterday"),
        ("currency", "EURO"),
        ("id", ...),
    ],
    "flickrocket": [
        ("total_price", "abc"),
        ("created_at", "31/12/2020"),
        ("currency", 7),
        ("id", ...),
    ],
    "spiffy": [
        ("total_price", "ten"),
        ("updated_at", "not a date"),
        ("currency", "dollars"),
        ("id", ...),
    ],
    "merchantpro": [
        ("total_amount", "n/a"),
        ("date_created", "tomorrow"),
        ("currency", "LEI"),
        ("id", ...),
    ],
    "lunasoft": [
        ("total", "1.234,56"),
        ("created", "13-13-2020"),
        ("line_items", "none"),
        ("id", ...),
    ],
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_unmappable_records_are_quarantined_and_the_rest_of_the_page_loads(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=40)
    victims = [o.id for o in sim.store.visible()[3:7]]
    for order_id, (field, value) in zip(victims, BAD_INPUT[platform], strict=True):
        sim.renderer.patches[order_id] = {field: value}
    sim.renderer.patches[sim.store.visible()[8].id] = {"brand_new_field": {"nested": [1, 2]}}
    [result] = run_load([shop_for(platform, sim)], warehouse)
    assert result.ok, result.error
    quarantined = query(
        warehouse,
        "select order_id, reason, payload::varchar from commerce.quarantine order by order_id",
    )
    assert len(quarantined) == 4
    assert all(reason and payload.startswith("{") for _, reason, payload in quarantined)
    assert {order_id for order_id, _, _ in quarantined} >= {str(v) for v in victims[:3]}
    assert query(warehouse, "select count(*) from commerce.orders") == [(36,)]
    [(raw,)] = query(
        warehouse,
        "select payload->>'brand_new_field' from commerce.raw_orders where order_id = ?",
        [str(sim.store.visible()[8].id)],
    )
    assert "nested" in raw
    # fixed at the source, the order loads and leaves quarantine
    sim.renderer.patches.clear()
    for order_id in victims:
        sim.store.touch(order_id)
    assert run_load([shop_for(platform, sim)], warehouse, full_refresh=True)[0].ok
    assert query(warehouse, "select count(*) from commerce.quarantine where order_id <> ''") == [
        (0,)
    ]
    assert query(warehouse, "select count(*) from commerce.orders") == [(40,)]


def test_offset_paging_keeps_records_whose_ids_cannot_be_compared(simulator, warehouse):
    """MerchantPro drops records already read in the overlap of offset pages; records without an
    id, or with an object as id, must reach mapping (and quarantine), not vanish or crash."""
    sim = simulator("merchantpro", orders=30)
    orders = sim.store.visible()
    sim.renderer.patches[orders[2].id] = {"id": ...}
    sim.renderer.patches[orders[3].id] = {"id": ...}
    sim.renderer.patches[orders[4].id] = {"id": {"nested": 1}}
    [result] = run_load([shop_for("merchantpro", sim)], warehouse)
    assert result.ok, result.error
    assert (result.stats.orders, result.stats.quarantined) == (27, 3)
    assert query(warehouse, "select count(*) from commerce.orders") == [(27,)]


def test_a_second_load_waits_then_exits_with_a_clear_message(
    simulator, warehouse, monkeypatch, capsys
):
    sim = simulator("haravan", orders=5)
    configure(monkeypatch, "haravan", sim)
    monkeypatch.setenv("SHOPDUCK__LOCK_WAIT_SECONDS", "0.5")
    lock_path = warehouse.parent / f".{warehouse.name}.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another load is running
        started = time.monotonic()
        code = cli.main(["load", "--warehouse", str(warehouse)])
        waited = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1 and "another shopduck load holds" in err and waited >= 0.5
    assert not warehouse.exists()


def test_a_reader_holding_the_warehouse_makes_a_load_fail_clearly(
    simulator, warehouse, monkeypatch, capsys
):
    sim = simulator("haravan", orders=5)
    configure(monkeypatch, "haravan", sim)
    monkeypatch.setenv("SHOPDUCK__LOCK_WAIT_SECONDS", "0.5")
    duckdb.connect(str(warehouse)).close()
    with held_by_another_process(warehouse, read_only=True):
        code = cli.main(["load", "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 1 and "open in another program" in err and err.count("\n") == 1
    assert cli.main(["load", "--warehouse", str(warehouse)]) == 0  # and loads once it is closed


def _load_process(warehouse: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "load", "--warehouse", str(warehouse)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("moment", ["extracting", "loading"])
def test_a_load_killed_midway_then_rerun_equals_the_source(moment, simulator, warehouse, tmp_path):
    sim = simulator("haravan", orders=250)
    env = {
        **os.environ,
        "SOURCES__HARAVAN__BASE_URL": sim.base_url,
        "SOURCES__HARAVAN__ACCESS_TOKEN": "sim-token",
        "SOURCES__HARAVAN__PAGE_SIZE": "25",
        "SOURCES__HARAVAN__SHOP": "crashy",
        "PYTHONPATH": str(Path(__file__).parent.parent),
    }
    if moment == "extracting":
        sim.hooks.append(lambda n: time.sleep(0.3) if n >= 4 else None)
    process = _load_process(warehouse, env)
    normalized = tmp_path / ".shopduck" / warehouse.name
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if moment == "extracting" and len(sim.requests) >= 6:
            break
        if moment == "loading" and any(
            p.is_dir() and any(p.iterdir()) for p in normalized.glob("*/load/normalized")
        ):
            break
        time.sleep(0.005)
    assert process.poll() is None, "the load finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    sim.hooks.clear()
    sim.store.add_orders(3)
    rerun = _load_process(warehouse, env)
    output, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, output
    assert warehouse_totals(warehouse, "haravan", "crashy") == expected_totals("haravan", sim.store)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        dupes = con.execute(
            "select count(*) - count(distinct order_id) from commerce.orders"
        ).fetchone()
    assert dupes == (0,)


def test_no_secret_reaches_output_logs_traces_or_the_warehouse(
    simulator, warehouse, monkeypatch, capsys, caplog, tmp_path
):
    sim = simulator("spiffy", orders=30)
    configure(monkeypatch, "spiffy", sim)
    sim.inject(["503"])
    monkeypatch.setenv("SHOPDUCK__RETRY_INITIAL_WAIT", "0.01")
    assert cli.main(["load", "--warehouse", str(warehouse), "--progress", "log"]) == 0
    out, err = capsys.readouterr()
    texts = [out, err, caplog.text]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall():
            texts.append(repr(con.execute(f'select * from "{schema}"."{name}"').fetchall()))
    for secret in SIMULATORS["spiffy"].credentials.values():
        assert not [t for t in texts if secret in t]


@pytest.mark.parametrize("compressible", [False, True], ids=["varied", "repetitive"])
def test_large_orders_load_within_the_loads_memory_limit(compressible, simulator, warehouse):
    """DuckDB reads a parquet row group 2,048 rows at a time: 2,000 orders of 20 KB each (many
    lines, long notes) in one row group needed more than the loads' 128MB, and the shop failed
    every run with "Out of Memory Error", whether its payloads compress well or hardly."""
    sim = simulator("haravan", orders=2000)
    filler = random.Random(7)

    def large(path: str, body):
        for order in body.get("orders", []) if isinstance(body, dict) else []:
            phrase = (
                "lorem ipsum dolor sit amet "
                if compressible
                else "".join(filler.choices(string.ascii_letters + " ", k=100))
            )
            order["note"] = (phrase * 800)[:20_000]
        return body

    sim.rewrites.append(large)
    [result] = run_load([shop_for("haravan", sim)], warehouse)
    assert result.ok, result.error
    assert query(
        warehouse, "select count(*), min(length(cast(payload as varchar))) from commerce.raw_orders"
    ) == [(2000, pytest.approx(23_000, rel=0.1))]
    assert warehouse_totals(warehouse, "haravan", "test-haravan") == expected_totals(
        "haravan", sim.store
    )


def test_a_load_out_of_duckdb_memory_says_how_to_raise_the_limit(simulator, warehouse, monkeypatch):
    """The shop's one line names the setting, and its package loads on the next run once the
    limit is raised."""
    sim = simulator("haravan", orders=600)
    shop = shop_for("haravan", sim)
    monkeypatch.setenv("SHOPDUCK__DUCKDB_MEMORY_LIMIT", "2MB")
    [result] = run_load([shop], warehouse)
    assert not result.ok and result.error.startswith("OutOfMemoryException: Out of Memory Error")
    assert result.error.endswith("([shopduck] duckdb_memory_limit, SHOPDUCK__DUCKDB_MEMORY_LIMIT)")
    monkeypatch.delenv("SHOPDUCK__DUCKDB_MEMORY_LIMIT")
    [result] = run_load([shop], warehouse)
    assert result.ok and result.stats.fetched == 0  # nothing fetched again: the package loaded
    assert warehouse_totals(warehouse, "haravan", shop.name) == expected_totals(
        "haravan", sim.store
    )
