"""`shopduck replay`: the commerce tables of chosen shops rebuilt from the payloads the warehouse
keeps (`raw_orders`, and the payloads of orders in `quarantine`), with no API request: after a
mapping fix, or to fill a new column. The payloads go through the same mapping as a load, and
what they map to replaces every row of the shop (see `pipelines.source.Writing`), so a replay is
idempotent: rows the mapping no longer produces go, what still cannot be mapped is quarantined
again, and quarantine rows a replay no longer produces are removed with the rest. The payloads
themselves are written only where the mapping now stores them differently (most of a replay's
work otherwise). Cursors stay as they are, and orders flagged deleted by reconciliation stay
flagged."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from pathlib import Path

import msgspec

from pipelines.batches import KeptPayloads
from pipelines.errors import ShopduckError
from pipelines.models import has_data
from pipelines.paging import Page
from pipelines.runner import ShopResult, load_shops
from pipelines.settings import DATASET
from pipelines.shop import RunOptions, Shop
from pipelines.warehouse import Warehouse, as_warehouse
from platforms import PLATFORMS
from transforms.scrub import compact_json

PAGE_ORDERS = 1000  # payloads read from the warehouse at a time
LOADED_PAYLOADS = (  # every order's last loaded payload
    f"select order_id, updated_at, cast(payload as varchar) from {DATASET}.raw_orders "
    "where platform = $platform and shop = $shop"
)
QUARANTINED_PAYLOADS = (
    f"select distinct cast(payload as varchar) from {DATASET}.quarantine "
    "where platform = $platform and shop = $shop"
)


def replay_shops(
    shops: list[Shop], warehouse: Warehouse | Path, run: RunOptions
) -> list[ShopResult]:
    """Replay each shop from its kept payloads (see the module's docstring); a shop another
    process is loading is skipped, a failing one costs the others nothing."""
    warehouse = as_warehouse(warehouse)
    deleted = {shop.label: deleted_orders(warehouse, shop) for shop in shops}
    results = load_shops(
        shops, warehouse, run, stored=lambda shop, kept: stored_pages(warehouse, shop, kept)
    )
    for result in results:
        if result.ok and not result.skipped:
            settle(warehouse, result.shop, deleted[result.shop.label])
    return results


def shops_to_replay(
    warehouse: Warehouse, configured: list[Shop], platforms: Iterable[str], names: Iterable[str]
) -> list[Shop]:
    """The shops whose payloads the warehouse keeps, optionally only of these platforms or
    labels, each with its configuration where it is configured (no credentials are needed). A
    shop whose mapping uses its settings (Lunasoft's currency) must be configured."""
    wanted_platforms, wanted_names = set(platforms), set(names)
    by_key = {(shop.platform, shop.name): shop for shop in configured}
    chosen = [
        (platform, name)
        for platform, name in sorted(stored_shops(warehouse))
        if (not wanted_platforms or platform in wanted_platforms)
        and (not wanted_names or name in wanted_names)
    ]
    if not chosen:
        raise ShopduckError(
            f"no payloads of the chosen shops in {warehouse.describe()}: replay rebuilds "
            "shops that `shopduck load` has loaded"
        )
    # Mapped without the settings its load used, such a shop would come out silently different
    # (a Lunasoft shop's orders without their currency).
    unsettled = [
        f"{platform}/{name}: not configured here, and its mapping uses its "
        f"{', '.join(PLATFORMS[platform].mapper_options)} setting"
        for platform, name in chosen
        if (platform, name) not in by_key and PLATFORMS[platform].mapper_options
    ]
    if unsettled:
        raise ShopduckError(
            f"{'; '.join(unsettled)}: configure it as for `shopduck load`, or leave it out "
            "with --platform / --shop"
        )
    return [by_key.get(key) or Shop(key[0], key[1], base_url="", secrets={}) for key in chosen]


def stored_shops(warehouse: Warehouse) -> set[tuple[str, str]]:
    """(platform, shop) of every shop whose payloads the warehouse keeps."""
    with warehouse.connect(read_only=True) as db:
        if not has_data(db):
            return set()
        rows = db.rows(f"select distinct platform, shop from {DATASET}.raw_orders")
    return {(platform, shop) for platform, shop in rows}


def stored_pages(
    warehouse: Warehouse, shop: Shop, kept: KeptPayloads
) -> Generator[Page, None, None]:
    """The shop's kept payloads, PAGE_ORDERS at a time, as compact JSON: every order's last
    loaded payload (noted in `kept`), then the quarantined payloads, each streamed by one
    query so memory stays flat."""
    with warehouse.connect(read_only=True) as db:
        compact = (lambda text: text) if db.keeps_json_text else compact_json
        for rows in db.batches(LOADED_PAYLOADS, shop.key, PAGE_ORDERS):
            payloads = []
            for order_id, updated_at, text in rows:
                payload = compact(text.encode())
                kept.add(order_id, updated_at, payload)
                payloads.append(msgspec.Raw(payload))
            yield Page(payloads)
        for rows in db.batches(QUARANTINED_PAYLOADS, shop.key, PAGE_ORDERS):
            yield Page([msgspec.Raw(compact(text.encode())) for (text,) in rows])


def deleted_orders(warehouse: Warehouse, shop: Shop) -> list[str]:
    """The shop's orders flagged deleted (a replay maps them as live: they are flagged again)."""
    with warehouse.connect(read_only=True) as db:
        rows = db.rows(
            f"select order_id from {DATASET}.orders "
            "where platform = $platform and shop = $shop and is_deleted",
            shop.key,
        )
    return [order_id for (order_id,) in rows]


def settle(warehouse: Warehouse, shop: Shop, deleted: list[str]) -> None:
    """After a shop's replay: the payloads of its orders that no longer map deleted (the rest
    of their rows went with the replay, and their payloads are in quarantine now), and its
    orders flagged deleted before it flagged again."""
    with warehouse.connect() as db, db.transaction():
        db.rows(
            f"delete from {DATASET}.raw_orders where platform = $platform and shop = $shop "
            f"and order_id not in (select order_id from {DATASET}.orders "
            "where platform = $platform and shop = $shop) returning order_id",
            shop.key,
        )
        db.rows(
            f"update {DATASET}.orders set is_deleted = true "
            "where platform = $platform and shop = $shop "
            "and order_id in (select unnest(cast($ids as varchar[]))) returning order_id",
            {**shop.key, "ids": deleted},
        )
