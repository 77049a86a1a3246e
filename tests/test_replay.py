"""`shopduck replay` rebuilds a shop's commerce tables from the payloads the warehouse keeps,
with no API request: exactly (the oracle), idempotently, on DuckDB and Postgres, keeping
deleted orders flagged and cursors as they were, and healing what a mapping fix now maps."""

from __future__ import annotations

import dataclasses
import functools
import threading
from datetime import UTC, datetime

import dlt
import duckdb
import pytest

from pipelines import cli, runner
from pipelines import replay as replaying
from pipelines.errors import ShopduckError
from pipelines.reconcile import reconcile_shops
from pipelines.replay import replay_shops, shops_to_replay
from pipelines.runner import pipeline_name
from pipelines.shop import RunOptions
from pipelines.warehouse import DUCKDB_MEMORY_LIMIT, as_warehouse
from platforms import PLATFORMS
from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import ENFORCED_LIMIT, fresh_postgres_warehouse, rows, run_load, shop_for

DAMAGE = [  # what a mapping bug might have left in the tables
    "delete from commerce.order_lines where line_id in "
    "(select min(line_id) from commerce.order_lines group by order_id)",
    "update commerce.orders set total_price = 0, total_tax = null",
    "delete from commerce.refunds",
]


def damage(warehouse) -> None:
    with as_warehouse(warehouse).connect() as db:
        for statement in DAMAGE:
            db.script(statement)


def replay(shops, warehouse):
    return replay_shops(shops, warehouse, RunOptions(started_at=datetime.now(UTC)))


@pytest.mark.parametrize("platform", sorted(SIMULATORS))
def test_replay_rebuilds_every_table_exactly_without_a_request(simulator, warehouse, platform):
    sim = simulator(platform, orders=80)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    expected = expected_totals(platform, sim.store)
    damage(warehouse)
    assert warehouse_totals(warehouse, platform, shop.name) != expected
    requests, cursor = len(sim.requests), rows(warehouse, "select count(*) from commerce.load_runs")

    for _ in range(2):  # idempotent: a second replay changes nothing
        [result] = replay([shop], warehouse)
        assert result.ok and result.stats.orders == len(sim.store.visible())
        assert warehouse_totals(warehouse, platform, shop.name) == expected
    assert len(sim.requests) == requests  # not one request
    assert rows(warehouse, "select count(*) from commerce.load_runs") == cursor  # not a load run


def test_a_replay_replaces_every_row_of_its_shop_and_no_other(simulator, warehouse):
    """Rows the payloads no longer produce go, also from a table none of the shop's payloads
    has rows in (as after a fix that stops a mapper inventing them), and only the replayed
    shop's rows are touched."""
    sims = {name: simulator("haravan", orders=30, seed=seed) for seed, name in enumerate("ab")}
    shops = [shop_for("haravan", sim, name) for name, sim in sims.items()]
    assert all(result.ok for result in run_load(shops, warehouse))
    with as_warehouse(warehouse).connect() as db:
        for name in "ab":  # rows no payload of the shop produces
            db.script(
                "insert into commerce.order_status_history (platform, shop, order_id, position) "
                f"values ('haravan', '{name}', '1', 0)"
            )
            db.script(
                "insert into commerce.order_lines (platform, shop, order_id, line_id, quantity) "
                f"select platform, shop, order_id, 'invented', 1 from commerce.orders "
                f"where shop = '{name}' limit 1"
            )
    other_before = warehouse_totals(warehouse, "haravan", "b")

    [result] = replay([shops[0]], warehouse)
    assert result.ok
    assert warehouse_totals(warehouse, "haravan", "a") == expected_totals(
        "haravan", sims["a"].store
    )
    stale = "select shop, count(*) from commerce.{} where {} group by shop"
    assert rows(warehouse, stale.format("order_status_history", "true")) == [("b", 1)]
    assert rows(warehouse, stale.format("order_lines", "line_id = 'invented'")) == [("b", 1)]
    assert warehouse_totals(warehouse, "haravan", "b") == other_before


def test_a_shop_name_with_quotes_and_braces_replays(simulator, warehouse):
    """The shop's name is a literal in the SQL that selects its rows (and in dlt's template)."""
    sim = simulator("spiffy", orders=20)
    shop = shop_for("spiffy", sim, "o'neil {shop}")
    assert run_load([shop], warehouse)[0].ok
    damage(warehouse)
    [result] = replay([shop], warehouse)
    assert result.ok, result.error
    assert warehouse_totals(warehouse, "spiffy", shop.name) == expected_totals("spiffy", sim.store)


def test_replay_keeps_deleted_orders_flagged_and_the_cursor(simulator, warehouse):
    sim = simulator("haravan", orders=40)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok
    gone = sim.store.visible()[0].id
    sim.store.delete(gone)
    reconcile_shops([shop], warehouse, RunOptions(started_at=datetime.now(UTC)))
    flagged = "select order_id from commerce.orders where is_deleted"
    assert rows(warehouse, flagged) == [(str(gone),)]
    [result] = replay([shop], warehouse)
    assert result.ok
    assert rows(warehouse, flagged) == [(str(gone),)]

    counts = (
        "select count(*) from commerce.orders union all select count(*) from commerce.order_lines"
    )
    replayed = rows(warehouse, counts)
    sim.store.cancel(sim.store.visible()[1].id)  # the next load reads on from its cursor
    before = len(sim.requests)
    assert run_load([shop], warehouse)[0].ok
    assert all(
        "updated_at_min" in request for request in sim.requests[before:] if "count" not in request
    )
    # that load merged its one changed order; every other order of the shop stayed
    assert rows(warehouse, counts) == replayed


def test_a_replay_after_a_mapping_fix_loads_what_was_quarantined(simulator, warehouse, monkeypatch):
    sim = simulator("haravan", orders=30)
    shop = shop_for("haravan", sim)
    fixed = PLATFORMS["haravan"]
    victim = str(sim.store.visible()[3].id)

    def buggy(payload, **options):
        if str(payload.get("id")) == victim:
            raise KeyError("a bug in the mapper")
        return fixed.map_order(payload, **options)

    monkeypatch.setitem(PLATFORMS, "haravan", dataclasses.replace(fixed, map_order=buggy))
    assert run_load([shop], warehouse)[0].ok
    in_quarantine = "select order_id from commerce.quarantine"
    assert rows(warehouse, in_quarantine) == [(victim,)]
    monkeypatch.setitem(PLATFORMS, "haravan", fixed)  # the fix

    [result] = replay([shop], warehouse)
    assert result.ok and result.stats.quarantined == 0
    assert rows(warehouse, in_quarantine) == []
    assert warehouse_totals(warehouse, "haravan", shop.name) == expected_totals(
        "haravan", sim.store
    )


def test_replay_on_postgres(simulator, tmp_path):
    sims = {platform: simulator(platform, orders=40) for platform in ("lunasoft", "spiffy")}
    shops = [shop_for(platform, sim) for platform, sim in sims.items()]
    with fresh_postgres_warehouse(tmp_path) as warehouse:
        assert all(r.ok for r in run_load(shops, warehouse))
        payloads = rows(warehouse, KEPT_PAYLOADS)
        damage(warehouse)
        assert all(r.ok for r in replay(shops, warehouse))
        for shop in shops:
            expected = expected_totals(shop.platform, sims[shop.platform].store)
            assert warehouse_totals(warehouse, shop.platform, shop.name) == expected
        # Postgres keeps JSON as jsonb, which writes it back differently: unchanged all the same
        assert rows(warehouse, KEPT_PAYLOADS) == payloads
        assert [written(warehouse, shop, "raw_orders") for shop in shops] == [0, 0]


KEPT_PAYLOADS = (
    "select platform, shop, order_id, updated_at, cast(payload as varchar) "
    "from commerce.raw_orders order by platform, shop, order_id"
)


def written(warehouse, shop, table: str) -> int:
    """The rows of `table` the shop's last load or replay wrote."""
    pipeline = dlt.attach(pipeline_name(shop), pipelines_dir=str(warehouse.pipelines_dir))
    return pipeline.last_trace.last_normalize_info.row_counts.get(table, 0)


def test_a_replay_writes_only_the_payloads_it_changes(simulator, warehouse, monkeypatch):
    """The payloads are the replay's input: rewriting the unchanged ones would be most of its
    work. A payload is written where the mapping now stores it differently (here a secret
    the stored copy still holds), and goes with its order's rows where the order no longer
    maps (it is quarantined with it)."""
    sim = simulator("haravan", orders=30)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok
    secret, broken = (str(order.id) for order in sim.store.visible()[2:4])
    with as_warehouse(warehouse).connect() as db:
        db.script(
            "update commerce.raw_orders set payload = json_merge_patch(payload, "
            f"'{{\"password\": \"hunter2\"}}') where order_id = '{secret}'"
        )
    before = {row[2]: row for row in rows(warehouse, KEPT_PAYLOADS)}
    fixed = PLATFORMS["haravan"]

    def now_failing(payload, **options):
        if str(payload.get("id")) == broken:
            raise KeyError("a regression in the mapper")
        return fixed.map_order(payload, **options)

    monkeypatch.setitem(PLATFORMS, "haravan", dataclasses.replace(fixed, map_order=now_failing))
    [result] = replay([shop], warehouse)
    assert result.ok and result.stats.quarantined == 1

    after = {row[2]: row for row in rows(warehouse, KEPT_PAYLOADS)}
    assert set(after) == set(before) - {broken}
    assert rows(warehouse, "select order_id from commerce.quarantine") == [(broken,)]
    assert "hunter2" in before[secret][4] and "hunter2" not in after[secret][4]
    assert written(as_warehouse(warehouse), shop, "raw_orders") == 1  # that one only
    assert {i: row for i, row in after.items() if i != secret} == {
        i: row for i, row in before.items() if i not in (secret, broken)
    }


def test_a_replay_maps_a_shop_while_its_payloads_are_still_read(simulator, warehouse, monkeypatch):
    """A shop's payloads are read from the warehouse on a thread of their own, and its mapping
    begins once READ_EARLY_ORDERS of them are read, as a backfill's begins while it is still
    fetched: reading 20,000 Haravan payloads took half a second before the first was mapped."""
    sim = simulator("haravan", orders=80)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok
    monkeypatch.setattr(runner, "READ_EARLY_ORDERS", 20)
    monkeypatch.setattr(replaying, "PAGE_ORDERS", 10)
    extracting = threading.Event()
    extract = runner._extract

    def noted(run, *args):
        extracting.set()
        return extract(run, *args)

    monkeypatch.setattr(runner, "_extract", noted)
    stored_pages, began = replaying.stored_pages, []

    def read_slowly(*args):
        for number, page in enumerate(stored_pages(*args), 1):
            yield page
            if number == 3:  # 30 payloads read, 50 to come
                began.append(extracting.wait(timeout=10))

    monkeypatch.setattr(replaying, "stored_pages", read_slowly)
    damage(warehouse)
    [result] = replay([shop], warehouse)
    assert result.ok and began == [True]
    assert warehouse_totals(warehouse, "haravan", shop.name) == expected_totals(
        "haravan", sim.store
    )


def test_shops_replayed_together_are_each_rebuilt_exactly(simulator, warehouse, monkeypatch):
    """A replay reads the shops' payloads one shop after another on its reading thread while
    the shops read before it are mapped and loaded on the run's connection."""
    sims = {name: simulator("haravan", orders=120, seed=seed) for seed, name in enumerate("abc")}
    shops = [shop_for("haravan", sim, name) for name, sim in sims.items()]
    assert all(result.ok for result in run_load(shops, warehouse))
    monkeypatch.setattr(runner, "READ_EARLY_ORDERS", 20)
    monkeypatch.setattr(replaying, "PAGE_ORDERS", 10)
    damage(warehouse)
    results = replay(shops, warehouse)
    assert [r.stats.orders for r in results if r.ok] == [120, 120, 120]
    for name, sim in sims.items():
        assert warehouse_totals(warehouse, "haravan", name) == expected_totals("haravan", sim.store)


def test_every_query_of_a_run_is_under_the_loads_memory_limit(warehouse):
    """In a run, shopduck's own queries run on cursors of the loads' connection, writers (the
    models' rebuild) and readers (a replay reading its payloads while an earlier shop loads)
    alike, under the limit DuckDB enforces for the loads (not only the setting's value)."""
    kept = as_warehouse(warehouse)
    with duckdb.connect() as fresh:
        fresh.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        loads = fresh.execute(ENFORCED_LIMIT).fetchall()
    with kept.kept_open():
        for read_only in (False, True):
            with kept.connect(read_only=read_only) as db:
                assert db.rows(ENFORCED_LIMIT) == loads


def test_the_replay_command_names_each_shop_and_refuses_an_empty_choice(
    simulator, warehouse, capsys
):
    sim = simulator("merchantpro", orders=20)
    assert run_load([shop_for("merchantpro", sim)], warehouse)[0].ok
    assert cli.main(["replay", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("merchantpro/test-merchantpro: 20 orders replayed, 0 quarantined, ")
    assert cli.main(["replay", "--platform", "haravan", "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no payloads of the chosen shops" in err


def test_a_shop_whose_mapping_uses_its_settings_is_not_replayed_unconfigured(simulator, warehouse):
    """Lunasoft's orders take the shop's configured currency: replayed where the shop is not
    configured, they would silently lose it. The replay says so in one line instead."""
    sim = simulator("lunasoft", orders=10)
    shop = shop_for(
        "lunasoft", sim, "luna", options={**SIMULATORS["lunasoft"].options, "currency": "EUR"}
    )
    assert run_load([shop], warehouse)[0].ok
    with pytest.raises(
        ShopduckError,
        match=r"^lunasoft/luna: not configured here, and its mapping uses its currency setting",
    ):
        shops_to_replay(as_warehouse(warehouse), [], (), ())
    assert shops_to_replay(as_warehouse(warehouse), [shop], (), ()) == [shop]
    assert rows(warehouse, "select distinct currency from commerce.orders") == [("EUR",)]


def test_a_replay_keeps_the_quarantined_update_of_a_loaded_order(simulator, warehouse, monkeypatch):
    """An update the mapping could not handle is quarantined while the order's earlier copy
    stays loaded. Replaying before the fix keeps both, and the fix then loads the update: the
    quarantined payload is the only copy of it (the cursor has moved past it)."""
    sim = simulator("haravan", orders=20)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok
    order = sim.store.visible()[5]
    fixed = PLATFORMS["haravan"]
    buggy = functools.partial(failing_on_cancellation, str(order.id), fixed.map_order)
    monkeypatch.setitem(PLATFORMS, "haravan", dataclasses.replace(fixed, map_order=buggy))
    sim.store.cancel(order.id)
    assert run_load([shop], warehouse)[0].ok
    cancelled = (
        f"select cancelled_at is not null from commerce.orders where order_id = '{order.id}'"
    )
    in_quarantine = "select order_id from commerce.quarantine"
    assert rows(warehouse, cancelled) == [(False,)]
    assert rows(warehouse, in_quarantine) == [(str(order.id),)]

    [result] = replay([shop], warehouse)  # before the fix: as it was
    assert result.ok and result.stats.quarantined == 1
    assert rows(warehouse, cancelled) == [(False,)]
    assert rows(warehouse, in_quarantine) == [(str(order.id),)]

    monkeypatch.setitem(PLATFORMS, "haravan", fixed)
    [result] = replay([shop], warehouse)
    assert result.ok and result.stats.quarantined == 0
    assert rows(warehouse, cancelled) == [(True,)]
    assert rows(warehouse, in_quarantine) == []
    assert warehouse_totals(warehouse, "haravan", shop.name) == expected_totals(
        "haravan", sim.store
    )


def failing_on_cancellation(order_id, map_order, payload, **options):
    """A mapper bug (module-level: the mapping workers receive it pickled)."""
    if str(payload.get("id")) == order_id and payload.get("cancelled_at"):
        raise KeyError("a bug in the mapper")
    return map_order(payload, **options)
