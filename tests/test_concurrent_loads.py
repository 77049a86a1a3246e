"""Many `shopduck load` processes against one Postgres warehouse at once (as on several hosts):
a brand-new database, shops shared between processes, loads forced to overlap. The tables equal
the sources exactly. With one staging dataset shared by every writer (dlt's default) they do not,
which is why each shop stages its merges in a dataset of its own: whether eight processes happen
to interleave two merges is chance, so that proof forces the interleaving, in one process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dlt.common.storages import FileStorage
from dlt.destinations.job_client_impl import SqlLoadJob

import pipelines.warehouse
from pipelines.models import unique_key_checks
from pipelines.runner import pipeline_name
from pipelines.warehouse import PostgresWarehouse
from simulators.server import Simulator
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import fresh_postgres_warehouse, run_load, shop_for
from tests.test_cli import shop_env

ROOT = Path(__file__).parent.parent
PROCESSES = 8
# The CLI, with every process's loads starting at the same moment (the first load of each waits
# at a barrier until all processes are there, or a few seconds have passed: a process whose shops
# all went to others never arrives).
LAUNCHER = """
import os, sys, time
from pathlib import Path

import pipelines.runner as runner
from pipelines.cli import run

barrier, load, arrived = Path(os.environ["TEST_BARRIER"]), runner._load, []


def load_together(*args):
    if not arrived:
        arrived.append((barrier / str(os.getpid())).touch())
        deadline = time.monotonic() + 4
        while len(list(barrier.iterdir())) < int(os.environ["TEST_PROCESSES"]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
    load(*args)


runner._load = load_together
sys.argv[0] = "shopduck"
run()
"""


def load_at_once(
    warehouse: PostgresWarehouse, env: dict[str, str], picks: list[list[str]], folder: Path
) -> tuple[list[str], list[str]]:
    """`shopduck load --shop ...` for each pick, all at once, each with the pipeline folder of
    a host of its own; returns their output lines, and their errors (the last line of each
    process that failed)."""
    barrier = folder / "barrier"
    barrier.mkdir(parents=True)
    processes = []
    for host, shops in enumerate(picks):
        settings = {
            "DESTINATION__POSTGRES__CREDENTIALS": warehouse.dsn,
            "SHOPDUCK__DESTINATION": "postgres",
            "SHOPDUCK__PIPELINES_DIR": str(folder.parent / f"host{host}"),
            "SHOPDUCK__RETRY_INITIAL_WAIT": "0.01",
            "TEST_BARRIER": str(barrier),
            "TEST_PROCESSES": str(len(picks)),
            "PYTHONPATH": str(ROOT),
        }
        arguments = [argument for shop in shops for argument in ("--shop", shop)]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, "load", *arguments],
                env={**os.environ, **env, **settings},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    lines, errors = [], []
    for process in processes:
        out, err = process.communicate(timeout=300)
        lines += out.splitlines()
        if process.returncode != 0:
            errors.append(err)
    return lines, errors


def mutate(sims: dict[str, tuple[str, Simulator]]) -> None:
    """New orders, a full refund and an edit that removes a line, in every shop."""
    for _, sim in sims.values():
        sim.store.add_orders(3)
        sim.store.refund(sim.store.visible()[-6].id, partial=False)
        sim.store.remove_line(sim.store.visible()[-8].id)


def test_eight_loads_at_once_into_one_postgres_warehouse_equal_the_sources(simulator, tmp_path):
    sims = {
        name: (platform, simulator(platform, orders=20, seed=seed))
        for seed, (name, platform) in enumerate(
            [
                ("north", "haravan"),
                ("south", "haravan"),
                ("east", "spiffy"),
                ("west", "spiffy"),
                ("film", "flickrocket"),
                ("pro", "merchantpro"),
            ]
        )
    }
    env: dict[str, str] = {}
    for name, (platform, sim) in sims.items():
        env |= shop_env(platform, sim, name)
    names = list(sims)
    # every process two shops, every shop in two or three processes
    picks = [[names[i % 6], names[(i + 1 + i // 6) % 6]] for i in range(PROCESSES)]
    with fresh_postgres_warehouse(tmp_path) as warehouse:

        def wrong() -> list[str]:
            """The shops that differ from their source, and the keys held twice."""
            with warehouse.connect(read_only=True) as db:
                twice = [name for name, sql in unique_key_checks(db).items() if db.rows(sql)]
            return twice + [
                name
                for name, (platform, sim) in sims.items()
                if warehouse_totals(warehouse, platform, name)
                != expected_totals(platform, sim.store)
            ]

        for round_ in ("first", "second"):
            if round_ == "second":
                mutate(sims)
            lines, errors = load_at_once(warehouse, env, picks, tmp_path / round_)
            assert errors == []
            loaded = {line.split(":")[0] for line in lines if " orders, " in line}
            assert loaded == {f"{platform}/{name}" for name, (platform, _) in sims.items()}
            assert all(
                " orders, " in line or line.endswith(": skipped, another load holds it")
                for line in lines
            ), lines
            assert wrong() == [], f"after the {round_} round"


@pytest.mark.parametrize("shared", [False, True], ids=["per shop", "shared"])
def test_a_merge_whose_shared_staging_another_writer_reloaded_is_wrong_unless_staged_per_shop(
    shared, simulator, tmp_path, monkeypatch
):
    """The interleaving that makes one shared staging dataset corrupt the warehouse, forced
    rather than hoped for: writer A has loaded its shop's new rows into the staging tables and
    is about to merge them (dlt's delete-insert: `delete ... using staging`, `insert ... select
    from staging`), when writer B loads another shop, staging and merging it in full. With one
    `commerce_staging` for both, B's load replaced the staging rows A merges from, so A's shop
    stays stale; staged per shop (the default), both shops equal their sources."""
    sims = {
        name: simulator("haravan", orders=12, seed=seed) for seed, name in enumerate(("a", "b"))
    }
    shops = {name: shop_for("haravan", sim, name) for name, sim in sims.items()}
    if shared:
        monkeypatch.setattr(pipelines.warehouse, "STAGING_LAYOUT", "%s_staging")
    with fresh_postgres_warehouse(tmp_path) as warehouse:

        def exact(name: str) -> bool:
            return warehouse_totals(warehouse, "haravan", name) == expected_totals(
                "haravan", sims[name].store
            )

        # the first loads append (nothing staged): both shops exact, either layout
        assert all(result.ok for result in run_load(list(shops.values()), warehouse))
        assert exact("a") and exact("b")
        mutate({name: ("haravan", sim) for name, sim in sims.items()})
        stale_a = warehouse_totals(warehouse, "haravan", "a")

        # A's merges (the SQL jobs of A's pipeline, one per table chain, run in parallel) wait
        # until B's whole load is done
        folder_a, run_sql = pipeline_name(shops["a"]), SqlLoadJob.run
        gate, interleaved, merged = threading.Lock(), [], []

        def merge_after_b(job: SqlLoadJob) -> None:
            if folder_a in Path(job._file_path).parts:
                with gate:
                    if not interleaved:
                        with FileStorage.open_zipsafe_ro(job._file_path, "r") as sql:
                            merged.append(sql.read())
                        other = threading.Thread(
                            target=lambda: interleaved.append(run_load([shops["b"]], warehouse))
                        )
                        other.start()
                        other.join()
            run_sql(job)

        monkeypatch.setattr(SqlLoadJob, "run", merge_after_b)
        [result_a] = run_load([shops["a"]], warehouse)
        # the choreography ran: A merged from staging after B's load
        assert result_a.ok, result_a.error
        assert [[r.ok for r in b] for b in interleaved] == [[True]]
        assert "delete from" in merged[0].lower() and "commerce_staging" in merged[0]
        with warehouse.connect(read_only=True) as db:
            twice = [db.rows(sql) for sql in unique_key_checks(db).values()]
            schemas = {s for (s,) in db.rows("select schema_name from information_schema.schemata")}
        if shared:
            assert "commerce_staging" in schemas
            assert exact("b")  # B merged its own rows (twice: again in A's merge)
            assert not exact("a")
            assert warehouse_totals(warehouse, "haravan", "a") == stale_a  # A's changes lost
        else:
            assert {"commerce_staging_haravan_a", "commerce_staging_haravan_b"} <= schemas
            assert "commerce_staging" not in schemas
            assert twice == [[]] * len(twice)
            assert exact("a") and exact("b")
