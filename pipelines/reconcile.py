"""Reconciliation (`shopduck load --reconcile`): compare each shop's order list at the source
with the warehouse, both ways, and heal the difference. Orders the warehouse lacks, and orders
whose source `updated_at` is newer than the warehouse's, are fetched by id and loaded (the
incremental runs missed them: a change the API did not date, a change to an order older than
a trailing window, a lost page); orders the source no longer returns are flagged `is_deleted`
(and unflagged if they come back). Deleted orders stay in the warehouse; the reporting views
leave them out."""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.errors import one_line
from pipelines.runner import append_runs, load_shops
from pipelines.settings import DATASET
from pipelines.shop import RunOptions, Shop
from pipelines.warehouse import ShopBusy, Warehouse, as_warehouse
from platforms import PLATFORMS

log = logging.getLogger("shopduck.reconcile")


@dataclass
class Reconciled:
    """What reconciling one shop found and did."""

    shop: Shop
    source_count: int = 0  # orders the source lists
    warehouse_count: int = 0  # orders the warehouse holds, not deleted, after healing
    fetched_missing: int = 0
    refreshed_stale: int = 0
    flagged_deleted: int = 0
    restored: int = 0  # flagged deleted before, listed again now
    error: str | None = None
    skipped: bool = False  # another process was loading the shop (not a failure)

    @property
    def changed(self) -> bool:
        """Whether reconciling changed the warehouse."""
        return bool(
            self.fetched_missing or self.refreshed_stale or self.flagged_deleted or self.restored
        )

    def summary(self) -> str:
        """One line for the person running the load."""
        return (
            f"{self.source_count} in the source, {self.warehouse_count} in the warehouse, "
            f"{self.fetched_missing} missing fetched, {self.refreshed_stale} stale refreshed, "
            f"{self.flagged_deleted} flagged deleted, {self.restored} restored"
        )


def listed_versions(shop: Shop, options: RunOptions) -> dict[str, datetime | None]:
    """Every order id the shop's API returns now, with its last change where listed."""
    platform = PLATFORMS[shop.platform]

    async def listed() -> dict[str, datetime | None]:
        async with platform.connect(shop, options.retry) as client:
            return {
                order_id: changed
                async for order_id, changed in platform.list_versions(client, shop)
            }

    return asyncio.run(listed())


def stored_versions(warehouse: Warehouse, shop: Shop) -> dict[str, datetime | None]:
    """Every order id of the shop in the warehouse, with its `updated_at`."""
    with warehouse.connect() as db:
        rows = db.rows(
            f"select order_id, updated_at from {DATASET}.orders "
            "where platform = $platform and shop = $shop",
            shop.key,
        )
    return {order_id: _utc(changed) for order_id, changed in rows}


def to_fetch(
    listed: dict[str, datetime | None], stored: dict[str, datetime | None]
) -> tuple[list[str], list[str]]:
    """(missing, stale): ids listed but not stored, and ids whose listed change is newer than
    the stored one (or unknown on either side, which only a fetch can settle)."""
    missing = sorted(i for i in listed if i not in stored)
    stale = sorted(
        i
        for i, changed in listed.items()
        if i in stored and (changed is None or stored[i] is None or changed > stored[i])
    )
    return missing, stale


def flag_deleted(warehouse: Warehouse, shop: Shop, ids: set[str]) -> tuple[int, int]:
    """Set `is_deleted` from the listed ids; returns (newly deleted, restored)."""
    with warehouse.connect() as db:
        changes = db.rows(
            f"""
            with listed as (select unnest(cast($ids as varchar[])) as order_id)
            update {DATASET}.orders as o
            set is_deleted = o.order_id not in (select order_id from listed)
            where platform = $platform and shop = $shop
              and coalesce(is_deleted, false) <> (o.order_id not in (select order_id from listed))
            returning is_deleted
            """,
            {**shop.key, "ids": sorted(ids)},
        )
    deleted = sum(1 for (flag,) in changes if flag)
    return deleted, len(changes) - deleted


def live_orders(warehouse: Warehouse, shop: Shop) -> int:
    """Orders of the shop in the warehouse that are not flagged deleted."""
    with warehouse.connect() as db:
        [(count,)] = db.rows(
            f"select count(*) from {DATASET}.orders "
            "where platform = $platform and shop = $shop and not coalesce(is_deleted, false)",
            shop.key,
        )
    return int(count)


def reconcile_shops(
    shops: list[Shop], warehouse: Warehouse | Path, options: RunOptions
) -> list[Reconciled]:
    """Reconcile every shop: list, fetch what is missing or stale (all shops in one load), flag
    deletions, and record each shop's figures in `commerce.load_runs`. A shop that fails is
    reported and leaves its flags unchanged; a shop another process is loading is skipped."""
    warehouse = as_warehouse(warehouse)
    with ExitStack() as held:
        results = {}
        for shop in shops:
            result = results[(shop.platform, shop.name)] = Reconciled(shop)
            try:  # the whole reconciliation of a shop, as one load of it (flags included)
                held.enter_context(warehouse.shop_lock(shop.label))
            except ShopBusy:
                result.skipped = True
        _reconcile(
            {key: result for key, result in results.items() if not result.skipped},
            warehouse,
            options,
        )
    _record(warehouse, [r for r in results.values() if not r.skipped], options.started_at)
    return list(results.values())


def _reconcile(
    results: dict[tuple[str, str], Reconciled], warehouse: Warehouse, options: RunOptions
) -> None:
    listings: dict[tuple[str, str], dict[str, datetime | None]] = {}
    wanted: dict[tuple[str, str], list[str]] = {}
    for key, result in results.items():
        try:
            listed = listings[key] = listed_versions(result.shop, options)
            missing, stale = to_fetch(listed, stored_versions(warehouse, result.shop))
        except Exception as error:
            _failed(result, one_line(error))
            continue
        result.source_count = len(listed)
        result.fetched_missing, result.refreshed_stale = len(missing), len(stale)
        wanted[key] = missing + stale
    healing = [results[key].shop for key, ids in wanted.items() if ids]
    for loaded in load_shops(healing, warehouse, options, only=wanted) if healing else []:
        if loaded.error is not None:
            _failed(results[(loaded.shop.platform, loaded.shop.name)], loaded.error)
    for key, result in results.items():
        if result.error is not None:
            continue
        try:
            result.flagged_deleted, result.restored = flag_deleted(
                warehouse, result.shop, set(listings[key])
            )
            result.warehouse_count = live_orders(warehouse, result.shop)
        except Exception as error:
            _failed(result, one_line(error))


def _failed(result: Reconciled, reason: str) -> None:
    result.error = reason
    log.debug("%s: reconciliation failed: %s", result.shop.label, reason)


def _record(warehouse: Warehouse, results: list[Reconciled], started_at: datetime) -> None:
    finished = datetime.now(UTC)
    append_runs(
        warehouse,
        [
            {
                "platform": r.shop.platform,
                "shop": r.shop.name,
                "started_at": started_at,
                "finished_at": finished,
                "succeeded": r.error is None,
                "error": r.error,
                "source_count": r.source_count,
                "warehouse_count": r.warehouse_count,
                "fetched_missing": r.fetched_missing,
                "refreshed_stale": r.refreshed_stale,
                "flagged_deleted": r.flagged_deleted,
            }
            for r in results
        ],
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None
