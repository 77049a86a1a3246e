"""`shopduck demo`: every platform simulator on loopback -> a full load -> live changes ->
an incremental load -> the reporting models -> the revenue and refund summary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipelines.models import refresh_models
from pipelines.report import print_report
from pipelines.runner import ShopResult, load_shops
from pipelines.settings import DATASET, DEFAULT_LOCK_WAIT_SECONDS
from pipelines.shop import RunOptions, Shop
from pipelines.warehouse import DuckDBWarehouse
from simulators.registry import SIMULATORS, start_simulator
from simulators.server import Simulator


def demo_shop(platform: str, simulator: Simulator) -> Shop:
    """The shop configuration that reaches a running simulator."""
    return Shop(
        platform=platform,
        name=f"demo-{platform}",
        base_url=simulator.base_url,
        secrets=SIMULATORS[platform].credentials,
        options=SIMULATORS[platform].options,
    )


def _forget_previous_demo(warehouse: DuckDBWarehouse, shops: list[Shop]) -> None:
    """Drop an earlier demo's rows, so simulators reseeded today start from a clean slate."""
    if not warehouse.path.exists():
        return
    with warehouse.connect() as db:
        tables = db.rows(
            "select table_name from information_schema.tables where table_schema = $schema "
            "and table_name not like '\\_dlt%' escape '\\'",
            {"schema": DATASET},
        )
        for (table,) in tables:
            db.rows(
                f'delete from {DATASET}."{table}" where shop in (select unnest($shops))',
                {"shops": [shop.name for shop in shops]},
            )


def _print_results(title: str, results: list[ShopResult]) -> None:
    print(f"\n{title}")
    for r in results:
        state = "ok" if r.ok else f"FAILED: {r.error}"
        print(
            f"  {r.shop.platform:<12} {r.stats.orders:>6} orders  {r.stats.requests:>4} requests"
            f"  {r.seconds:5.1f}s  {state}"
        )


def run_demo(path: Path, orders: int) -> int:
    """Run the demo into the DuckDB file `path`; returns the process exit code."""
    warehouse = DuckDBWarehouse(path.resolve())
    simulators = {p: start_simulator(p, orders=orders) for p in SIMULATORS}
    try:
        shops = [demo_shop(p, sim) for p, sim in simulators.items()]
        with warehouse.writer_lock(DEFAULT_LOCK_WAIT_SECONDS):
            _forget_previous_demo(warehouse, shops)
            full = load_shops(shops, warehouse, RunOptions(datetime.now(UTC), full_refresh=True))
            _print_results(f"Full load into {warehouse.describe()}", full)
            for platform, simulator in simulators.items():
                changes = simulator.store.mutate(max(3, orders // 20))
                print(f"  {platform}: simulated {changes}")
            incremental = load_shops(shops, warehouse, RunOptions(datetime.now(UTC)))
            _print_results("Incremental load after the changes", incremental)
            failures = refresh_models(warehouse)
        for name, rows in failures.items():
            print(f"  data check {name}: {len(rows)} offending row(s)")
        print()
        print_report(warehouse)
        return 0 if all(r.ok for r in full + incremental) else 1
    finally:
        for simulator in simulators.values():
            simulator.stop()
