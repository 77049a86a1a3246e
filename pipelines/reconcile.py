"""Reconciliation (`shopduck load --reconcile`): list every order id each shop still returns
and flag the warehouse's other orders `is_deleted` (un-flagging any that came back). Deleted
orders stay in the warehouse; the reporting views leave them out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.core import RunOptions, Shop
from pipelines.errors import one_line
from pipelines.platforms import PLATFORMS
from pipelines.settings import DATASET

log = logging.getLogger("shopduck.reconcile")


@dataclass
class Reconciled:
    """What reconciling one shop changed."""

    shop: Shop
    listed: int = 0
    deleted: int = 0
    restored: int = 0
    error: str | None = None


def listed_ids(shop: Shop, options: RunOptions) -> set[str]:
    """Every order id the shop's API returns now."""
    platform = PLATFORMS[shop.platform]
    client = platform.connect(shop, options.retry)
    try:
        return {
            str(order_id)
            for page in platform.list_ids(client, shop)
            for order_id in page.ids()
            if order_id is not None
        }
    finally:
        client.close()


def flag_deleted(warehouse: Path, shop: Shop, ids: set[str]) -> tuple[int, int]:
    """Set `is_deleted` from the listed ids; returns (newly deleted, restored)."""
    listed = pa.table({"order_id": pa.array(sorted(ids), pa.string())})
    with duckdb.connect(str(warehouse)) as con:
        con.register("listed", listed)
        changes = con.execute(
            f"""
            update {DATASET}.orders as o
            set is_deleted = o.order_id not in (select order_id from listed)
            where platform = ? and shop = ?
              and coalesce(is_deleted, false) <> (o.order_id not in (select order_id from listed))
            returning is_deleted
            """,
            [shop.platform, shop.name],
        ).fetchall()
    deleted = sum(1 for (flag,) in changes if flag)
    return deleted, len(changes) - deleted


def reconcile_shops(shops: list[Shop], warehouse: Path, options: RunOptions) -> list[Reconciled]:
    """Reconcile every shop; a shop that fails is reported and leaves its flags unchanged."""
    results = []
    for shop in shops:
        result = Reconciled(shop)
        try:
            ids = listed_ids(shop, options)
            result.listed = len(ids)
            result.deleted, result.restored = flag_deleted(warehouse, shop, ids)
        except Exception as error:
            result.error = one_line(error)
            log.error("%s/%s: reconciliation failed: %s", shop.platform, shop.name, result.error)
        results.append(result)
    return results
