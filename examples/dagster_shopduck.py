"""shopduck under Dagster: one asset per configured shop, and the reporting models as one
asset downstream of them all, so a run rebuilds them once, after its shops.

Shops, credentials and the warehouse come from shopduck's usual configuration (`.dlt/*.toml`
or environment variables; `SHOPDUCK__DESTINATION=postgres` with
`DESTINATION__POSTGRES__CREDENTIALS` for the shared warehouse). Run the UI with

    uv sync --extra dagster
    uv run dagster dev -f examples/dagster_shopduck.py

Dagster's default executor runs the shop assets in parallel processes: on Postgres each shop
loads under its own advisory lock, so this and any cron-driven `shopduck load` never load one
shop twice at once; on DuckDB the writer lock serializes them.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at runtime.
import re
from datetime import UTC, datetime

import dagster as dg

from pipelines.config import configured_shops, lock_wait_seconds, retry_policy
from pipelines.models import refresh_models
from pipelines.runner import load_shops
from pipelines.shop import RunOptions, Shop
from pipelines.warehouse import configured_warehouse


def shop_asset(shop: Shop) -> dg.AssetsDefinition:
    """The asset of one shop: an incremental load, with what it read as metadata."""

    @dg.asset(
        name=re.sub(r"\W+", "_", f"{shop.platform}__{shop.name}"),
        key_prefix="shopduck",
        group_name="shops",
        description=f"The orders of {shop.label}, loaded incrementally by shopduck.",
    )
    def orders(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        warehouse = configured_warehouse()
        run = RunOptions(started_at=datetime.now(UTC), retry=retry_policy())
        with warehouse.writer_lock(lock_wait_seconds()):
            [result] = load_shops([shop], warehouse, run)
        if result.error is not None:
            raise dg.Failure(result.error)
        if result.skipped:
            context.log.info(f"{shop.label}: skipped, another load holds it")
        stats = result.stats
        return dg.MaterializeResult(
            metadata={
                "orders": stats.orders,
                "quarantined": stats.quarantined,
                "fetched": stats.fetched,
                "expected": stats.expected,
                "skipped": result.skipped,
            }
        )

    return orders


SHOPS = [shop_asset(shop) for shop in configured_shops()]


@dg.asset(key_prefix="shopduck", group_name="reporting", deps=SHOPS)
def reporting() -> dg.MaterializeResult:
    """The `reporting` models rebuilt in one transaction, and their assertion queries."""
    failed = {
        name: len(rows) for name, rows in refresh_models(configured_warehouse()).items() if rows
    }
    if failed:
        raise dg.Failure(f"data checks failed: {failed}")
    return dg.MaterializeResult()


defs = dg.Definitions(
    assets=[*SHOPS, reporting],
    schedules=[
        dg.ScheduleDefinition(
            name="shopduck_every_15_minutes",
            target=dg.AssetSelection.all(),
            cron_schedule="*/15 * * * *",
        )
    ],
)
