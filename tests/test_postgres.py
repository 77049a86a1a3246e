"""A Postgres warehouse holds exactly what a DuckDB one does: the scenarios (full load through
faults, quarantine, mutations and an incremental load, a rerun without changes, reconciliation)
run on both engines from the same simulators, and every commerce table agrees row for row, money
to the cent. A shop moved to another host resumes from the cursor stored in the warehouse;
shards loading at once split the shops; status, report and the notebooks' reader read Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.models import refresh_models, run_checks
from pipelines.reconcile import reconcile_shops
from pipelines.report import open_read_only
from pipelines.shop import RunOptions
from pipelines.sql import lock_key
from pipelines.warehouse import DuckDBWarehouse, Warehouse, postgres_warehouse
from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import FAST_RETRY, fresh_postgres_warehouse, rows, run_load, shop_for
from tests.test_cli import shop_env, shopduck
from tests.test_reliability import BAD_INPUT
from transforms.tables import TABLES

PLATFORMS = sorted(SIMULATORS)
ROOT = Path(__file__).parent.parent
COMPARED = [table.name for table in TABLES]
WHEN_LOADED = {"seen_at"}  # when each engine's load saw a record: differs by design


@pytest.fixture
def postgres(tmp_path: Path):
    with fresh_postgres_warehouse(tmp_path) as warehouse:
        yield warehouse


def _value(value: object, kind: str) -> object:
    """A value as both engines can agree on it: JSON parsed (DuckDB returns text, psycopg2
    parses jsonb), times in UTC. Decimals compare (and hash) by value: 14.9 == 14.9000."""
    if kind == "JSON" and isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def table_rows(duck: Path, postgres: Warehouse, table: str) -> tuple[Counter, Counter]:
    """The rows of a commerce table in each warehouse, as multisets, dlt's own columns left
    out; the column lists must be the same."""
    described = rows(
        duck,
        "select column_name, data_type from information_schema.columns where table_schema = "
        "'commerce' and table_name = $table and column_name not like '\\_%' escape '\\' "
        "order by column_name",
        {"table": table},
    )
    columns = [name for name, _ in described if name not in WHEN_LOADED]
    in_postgres = rows(
        postgres,
        "select column_name from information_schema.columns where table_schema = 'commerce' "
        "and table_name = $table and column_name not like '\\_%' escape '\\' "
        "order by column_name",
        {"table": table},
    )
    assert [name for (name,) in in_postgres] == [name for name, _ in described], table
    select = f"select {', '.join(columns)} from commerce.{table}"
    kinds = [kind for name, kind in described if name not in WHEN_LOADED]
    return tuple(  # type: ignore[return-value]
        Counter(tuple(_value(v, k) for v, k in zip(row, kinds, strict=True)) for row in found)
        for found in (rows(duck, select), rows(postgres, select))
    )


def test_the_scenarios_give_the_same_warehouse_on_duckdb_and_postgres(
    simulator, warehouse, postgres
):
    sims = {platform: simulator(platform, orders=50) for platform in PLATFORMS}
    shops = [shop_for(platform, sim, page_size=20) for platform, sim in sims.items()]
    engines: list[Warehouse] = [DuckDBWarehouse(warehouse), postgres]
    victims = {}
    for platform, sim in sims.items():  # two records no column can hold: quarantined
        victims[platform] = [o.id for o in sim.store.visible()[3:5]]
        for order_id, (field, value) in zip(victims[platform], BAD_INPUT[platform], strict=False):
            sim.renderer.patches[order_id] = {field: value}

    def load_both(faults: list[str]) -> None:
        for engine in engines:
            for sim in sims.values():
                sim.inject(faults)
            results = run_load(shops, engine)
            assert all(r.ok for r in results), [r.error for r in results]

    load_both(["429", "500", "cut", "truncated"])  # a full load through faults
    assert rows(postgres, "select count(*) from commerce.quarantine") == [(10,)]
    assert all(r.stats.orders == 0 for r in run_load(shops, postgres))  # no change: no load
    for platform, sim in sims.items():  # the bad records go, and a live shop's changes come
        sim.renderer.patches.clear()
        for order_id in victims[platform]:
            sim.store.delete(order_id)
        sim.store.add_orders(3)
        sim.store.refund(sim.store.visible()[-6].id, partial=False)
        sim.store.remove_line(sim.store.visible()[-8].id)  # its child rows are replaced
    load_both(["502", "429-bare", "truncated"])  # an incremental load through faults
    for platform, sim in sims.items():
        for engine in engines:
            assert (engine.kind, warehouse_totals(engine, platform, f"test-{platform}")) == (
                engine.kind,
                expected_totals(platform, sim.store),
            )
        sim.store.delete(sim.store.visible()[7].id)
    options = RunOptions(started_at=datetime.now(UTC), retry=FAST_RETRY)
    for engine in engines:
        reconciled = reconcile_shops(shops, engine, options)
        assert [(r.error, r.flagged_deleted) for r in reconciled] == [(None, 1)] * len(shops)
    assert rows(postgres, "select count(*) from commerce.orders where is_deleted") == [(5,)]
    for table in COMPARED:
        in_duckdb, in_postgres = table_rows(warehouse, postgres, table)
        assert in_duckdb, table
        assert in_duckdb == in_postgres, table
    for engine in engines:
        refresh_models(engine)
    with postgres.connect(read_only=True) as db:
        assert {name: found for name, found in run_checks(db).items() if found} == {}
    daily = "select * from reporting.daily_sales"
    assert Counter(rows(postgres, daily)) == Counter(rows(warehouse, daily))
    secrets = [v for spec in SIMULATORS.values() for v in spec.credentials.values()]
    with postgres.connect(read_only=True) as db:
        for schema, name in db.rows(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema')"
        ):
            text = repr(db.rows(f'select * from "{schema}"."{name}"'))
            assert not [secret for secret in secrets if secret in text], name


def test_a_shop_moved_to_another_host_resumes_from_the_cursor_in_the_warehouse(
    simulator, postgres, tmp_path
):
    sim = simulator("haravan", orders=60)
    shop = shop_for("haravan", sim, page_size=20)
    assert run_load([shop], postgres)[0].ok
    sim.store.add_orders(2)
    sim.requests.clear()
    elsewhere = postgres_warehouse(postgres.dsn, tmp_path / "another-host")
    [result] = run_load([shop], elsewhere)
    assert result.ok, result.error
    assert result.stats.orders == 2  # incremental: the two new orders, not all 62
    assert sim.requests and all("updated_at_min" in request for request in sim.requests)
    assert warehouse_totals(postgres, "haravan", shop.name) == expected_totals("haravan", sim.store)


def test_shards_at_once_load_every_shop_once_and_the_read_commands_read_postgres(
    simulator, postgres, tmp_path
):
    sims = [simulator("spiffy", orders=5, seed=seed) for seed in range(9)]
    env = {
        "DESTINATION__POSTGRES__CREDENTIALS": postgres.dsn,
        "SHOPDUCK__PIPELINES_DIR": str(tmp_path / "pipelines"),
    }
    for number, sim in enumerate(sims):
        env |= shop_env("spiffy", sim, f"shop{number}")
    shards = [
        shopduck("load", "--destination", "postgres", "--shard", f"{index}/3", env=env)
        for index in (1, 2, 3)
    ]
    loaded = []
    for process in shards:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        loaded += [line.split(":")[0] for line in out.splitlines() if line.startswith("spiffy/")]
    assert sorted(loaded) == sorted(f"spiffy/shop{n}" for n in range(9))
    assert rows(
        postgres, "select shop, count(*) from commerce.orders group by shop order by 1"
    ) == [(f"shop{n}", 5) for n in range(9)]
    status = shopduck("status", "--destination", "postgres", env=env)
    out, err = status.communicate(timeout=120)
    assert status.returncode == 0, err
    assert out.count("  orders in warehouse  5\n") == 9 and "FAILED" not in out
    report = shopduck("report", "--destination", "postgres", env=env)
    out, err = report.communicate(timeout=120)
    assert report.returncode == 0, err
    assert out.count("spiffy") >= 9 and "Top refunded products" in out
    # what the notebooks read: a DuckDB connection with the Postgres warehouse attached, money
    # exact (the models declare their money's precision; an open one would come as DOUBLE)
    money = "select sum(total_price) from commerce.orders"
    days = "select count(*), sum(net_sales) from reporting.daily_sales"
    with open_read_only(postgres) as con:
        assert con.execute(money).fetchall() == rows(postgres, money)
        assert con.execute(days).fetchall() == rows(postgres, days)


def test_a_postgres_warehouse_without_credentials_or_server_is_one_line(capsys, monkeypatch):
    assert cli.main(["status", "--destination", "postgres"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DESTINATION__POSTGRES__CREDENTIALS" in err
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://u:p@127.0.0.1:9/none")
    assert cli.main(["report", "--destination", "postgres"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot connect to postgres://127.0.0.1:9/none" in err
    assert ":p@" not in err


def test_a_shop_another_process_holds_is_skipped_with_one_line_and_the_others_load(
    simulator, postgres, monkeypatch, capsys
):
    for name, platform in (("busy", "haravan"), ("free", "spiffy")):
        for key, value in shop_env(platform, simulator(platform, orders=10), name).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres.dsn)
    monkeypatch.setenv("SHOPDUCK__PIPELINES_DIR", str(postgres.pipelines_dir))
    with postgres.connect() as other_process:
        other_process.rows("select pg_advisory_lock($key)", {"key": lock_key("haravan/busy")})
        code = cli.main(["load", "--destination", "postgres", "--reconcile"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines()[:2] == [
        "haravan/busy: skipped, another load holds it",
        out.splitlines()[1],
    ] and out.splitlines()[1].startswith("spiffy/free: 10 orders, 0 quarantined, ")
    assert "haravan/busy: reconcile skipped, another load holds it" in out.splitlines()
    assert rows(postgres, "select distinct shop from commerce.load_runs") == [("free",)]
    assert rows(postgres, "select distinct shop from commerce.orders") == [("free",)]
    assert cli.main(["load", "--destination", "postgres"]) == 0  # once it is free, it loads
    assert rows(postgres, "select count(*) from commerce.orders where shop = 'busy'") == [(10,)]


def test_model_rebuilds_finishing_at_once_take_turns(simulator, postgres):
    assert run_load([shop_for("haravan", simulator("haravan", orders=10))], postgres)[0].ok
    with ThreadPoolExecutor(4) as threads:
        rebuilt = list(threads.map(lambda _: refresh_models(postgres), range(4)))
    assert rebuilt == [{}] * 4
    assert rows(postgres, "select count(*) from reporting.orders") == [(10,)]


def test_the_readme_commands_for_postgres_run_as_written(simulator, postgres, tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Outgrowing one machine")[1].split("\n## ")[0]
    lines = [
        line.strip()
        for line in section.splitlines()
        if line.strip().startswith(("export ", "uv run ", "psql "))
    ]
    assert len(lines) == 9, lines  # the settings, the commands and the analysts' two lines
    example = "postgresql://loader:secret@db.internal:5432/shop"
    script = "\n".join(
        line.replace(example, postgres.dsn)
        .replace("uv run shopduck", f"{sys.executable} -m pipelines.cli")
        .replace("uv run python", sys.executable)
        for line in lines
    )
    env = {
        **os.environ,
        **shop_env("haravan", simulator("haravan", orders=20), "vn-main"),
        "PYTHONPATH": str(ROOT),
        "SHOPDUCK__PIPELINES_DIR": str(tmp_path / "pipelines"),
    }
    ran = subprocess.run(
        ["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("haravan/vn-main: 20 orders, 0 quarantined, ")
    assert "  orders in warehouse  20" in ran.stdout
    assert "Revenue and refunds (2026-01-01 .. today)" in ran.stdout
    assert ran.stdout.count("haravan") >= 5 and "vn-main" in ran.stdout
    assert rows(postgres, "select count(*) from commerce.orders") == [(20,)]
