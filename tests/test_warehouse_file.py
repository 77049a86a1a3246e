"""The warehouse file opens with the tools analysts have: the DuckDB CLI from PyPI (`duckdb-cli`,
which may be older than the DuckDB shopduck loads with) and dlt's own `pipeline.dataset()`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dlt

from pipelines.models import refresh_models
from pipelines.runner import pipeline_name
from tests.helpers import run_load, shop_for


def test_the_duckdb_cli_from_pypi_opens_the_warehouse_read_only(simulator, warehouse):
    sim = simulator("haravan", orders=30)
    assert run_load([shop_for("haravan", sim)], warehouse)[0].ok
    refresh_models(warehouse)
    cli = Path(sys.executable).parent / "duckdb"  # the duckdb-cli package (dev dependency)
    for command, expected in (
        ("from reporting.orders limit 5", "order_id"),  # the README's line
        ("from reporting.orders select count(*)", "30"),
    ):
        shown = subprocess.run(
            [str(cli), "-readonly", str(warehouse), command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert expected in shown.stdout


def test_dlt_dataset_reads_the_shops_tables(simulator, warehouse, tmp_path):
    sim = simulator("spiffy", orders=25)
    shop = shop_for("spiffy", sim)
    assert run_load([shop], warehouse)[0].ok
    pipeline = dlt.pipeline(  # as the README shows
        pipeline_name=pipeline_name(shop),
        pipelines_dir=str(tmp_path / ".shopduck" / warehouse.name),
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="commerce",
    )
    orders = pipeline.dataset().orders.arrow()
    assert orders.num_rows == 25
    assert set(orders.column("shop").to_pylist()) == {shop.name}
