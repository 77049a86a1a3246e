"""The dlt source of one shop: the pages fetched into the shop's spool (see `pipelines.fetching`),
mapped to arrow tables for every warehouse table, one copy of every order kept, and the shop's
cursor committed with the data it covers.

Why not dlt's own `incremental`: it tracks the largest value of one field in the rows a
resource yields and filters rows against it. shopduck's cursors are not a row field: an
updated_at window ends at the run's fixed start time (not at the newest row, which may be
older than the lookback would need), MerchantPro and Lunasoft have no updated filter and
re-read a trailing creation window, Lunasoft also keeps the highest id it read, and the rows
are arrow tables of ten tables at once. So the cursor is a typed value (`Cursor`) read from the
resource state before fetching, advanced from what the fetch returns (`Fetched`), and written
back to the resource state with `dlt.current.resource_state()` after the last page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from inspect import Parameter, Signature
from typing import Any, Optional
from urllib.parse import urlsplit

import dlt
from dlt.extract import DltSource

from pipelines.batches import KeptPayloads, OneCopyBatches
from pipelines.fetching import Spool, fetch_in_background
from pipelines.mapping import MappingJob, MappingPool
from pipelines.platform import Platform
from pipelines.settings import COMMON_OPTION_KEYS, DEFAULT_LOOKBACK_MINUTES
from pipelines.shop import RunOptions, Shop
from pipelines.windows import Cursor
from transforms.tables import JSON_COLUMNS, ORDER_KEY, RAW_ORDERS, RESET_MARKER, TABLES, Table

KEYWORD = Parameter.KEYWORD_ONLY
RESOURCE = "orders"  # the one resource of a shop's source; its state holds the cursor
BATCH_ORDERS = 2000  # orders whose arrow tables are handed to dlt together


@dataclass
class FetchStats:
    """What a shop's extraction did, for the run summary and `shopduck status`."""

    orders: int = 0
    pages: int = 0
    quarantined: int = 0
    requests: int = 0
    fetched: int = 0  # distinct orders read, mapped or quarantined
    expected: int | None = None  # the API's own count of them, where it can count
    cursor: dict[str, Any] = field(default_factory=dict)  # the cursor stored, as JSON
    late: list[Any] = field(default_factory=list)  # tables for `late_source`

    @property
    def missing(self) -> int:
        """Orders the API counts but the run did not read (0 where nothing is expected)."""
        return max(0, (self.expected or 0) - self.fetched)


class Writing(Enum):
    """How a shop's package is written into the warehouse tables."""

    APPEND = "append"  # a shop's first load: nothing to replace, the cheapest
    MERGE = "merge"  # each order replaces its earlier copy, child rows included
    # Every row of the shop is replaced (a replay), but for the payloads, the replay's input:
    # those that change are merged by order (see `pipelines.batches.KeptPayloads`), and those
    # of orders that no longer map are deleted after the load (`pipelines.replay`).
    REPLACE_SHOP = "replace_shop"


def table_hints(table: Table, writing: Writing, shop: Shop) -> dict[str, Any]:
    """dlt hints of a warehouse table. A merge is a delete-insert on the table's key (child
    tables also on the order key, with `_reset_marker` rows deleting); replacing the shop
    deletes every row of the shop instead (dlt's `destination_scope`), so rows the payloads no
    longer produce go too, without a key lookup. A package holds one copy of every row (see
    `pipelines.batches`): dlt need not deduplicate the staged rows, a window over all of them
    that was the largest memory of a merge."""
    if writing is Writing.REPLACE_SHOP and table is RAW_ORDERS:
        writing = Writing.MERGE  # see `Writing.REPLACE_SHOP`
    columns: dict[str, Any] = {
        name: {"data_type": "json"} for name in JSON_COLUMNS.get(table.name, ())
    }
    if table.child_of_order:
        columns[RESET_MARKER] = {"data_type": "bool", "hard_delete": writing is not Writing.APPEND}
    if writing is Writing.APPEND:
        return {"table_name": table.name, "write_disposition": "append", "columns": columns}
    disposition = {"disposition": "merge", "strategy": "delete-insert", "deduplicated": True}
    if writing is Writing.REPLACE_SHOP:
        disposition["destination_scope"] = shop_scope(shop)
    return {
        "table_name": table.name,
        "write_disposition": disposition,
        "primary_key": list(table.key),
        "merge_key": list(ORDER_KEY) if table.child_of_order else None,
        "columns": columns,
        # dlt keeps a scope in the stored schema until a later hint clears it: a merge after a
        # replay would otherwise delete every row of the shop it does not bring again
        "additional_table_hints": (
            None if writing is Writing.REPLACE_SHOP else {"x-merge-destination-scope": None}
        ),
    }


def shop_scope(shop: Shop) -> str:
    """The SQL condition of a shop's rows (in dlt's template syntax: braces doubled)."""
    literals = {key: "'" + value.replace("'", "''") + "'" for key, value in shop.key.items()}
    condition = " and ".join(f"{column} = {literal}" for column, literal in literals.items())
    return condition.replace("{", "{{").replace("}", "}}")


def record_fetch(
    stats: FetchStats, spool: Spool, cursor: Cursor, run: RunOptions, *, counted: bool
) -> None:
    """What a finished fetch learned, into the shop's stats: the requests it made and, for a
    run that reads from the cursor (`counted`; not reconciliation's by id), the API's count and
    the cursor the data read advances to."""
    stats.requests = spool.requests
    if counted and spool.fetched is not None:
        stats.expected = spool.fetched.expected
        stats.cursor = cursor.advanced(run, max_id=spool.fetched.max_id).to_state()


def stored_cursor(pipeline: dlt.Pipeline, platform: Platform) -> Cursor:
    """The cursor a shop's next run starts from, as its pipeline's state holds it."""
    source_state = pipeline.state.get("sources", {}).get(platform.name, {})
    return Cursor.from_state(dlt.current.resource_state(RESOURCE, source_state).get("cursor"))


def orders_source(
    platform: Platform,
    shop: Shop,
    run: RunOptions,
    stats: FetchStats,
    mapping: MappingPool | None = None,
    *,
    writing: Writing = Writing.MERGE,
    ids: Sequence[str] | None = None,
    spool: Spool | None = None,
    kept: KeptPayloads | None = None,
) -> DltSource:
    """The dlt source of one shop: a single resource that yields, per batch of orders, an arrow
    table for every warehouse table. The pages are read from `spool`, which the run's event
    loop fills (without one, as a source used on its own, a thread of the source's fetches
    them), and mapped by `mapping`'s worker processes, one copy of every order kept (see
    `pipelines.batches`). The advanced cursor is saved in the resource state only after the
    last page, so it is committed together with the data it covers; if a newer copy of an
    order came after its first copy was handed to dlt, the cursor waits for `late_source`,
    which replaces that copy in a second package. `writing`: how the tables are written (see
    `Writing`; APPEND where the warehouse holds nothing of this shop). `ids`: fetch just these
    orders (reconciliation), cursor untouched. `kept`: a replay's, the payloads `raw_orders`
    holds (only those that change are written, see `pipelines.batches.KeptPayloads`). Without
    a `mapping` pool (a source used on its own), the source maps with a pool of its own."""

    def pages() -> Iterator[Any]:
        if mapping is None:
            with MappingPool({platform.map_order.__module__}) as own:
                yield from shop_pages(own)
        else:
            yield from shop_pages(mapping)

    def shop_pages(mapping: MappingPool) -> Iterator[Any]:
        state = dlt.current.resource_state()
        cursor = Cursor.from_state(state.get("cursor"))
        spooled = spool or fetch_in_background(platform, shop, cursor, run, ids)
        job = MappingJob(
            platform.mapper(shop),
            platform.name,
            shop.name,
            run.started_at,
            writing is Writing.MERGE,  # reset markers: only a merge by order needs them
        )
        batches = OneCopyBatches(BATCH_ORDERS, kept)
        try:
            for mapped, page_count in mapping.map(job, spooled):
                stats.pages += page_count
                stats.requests = spooled.requests
                yield from batches.add(mapped)
            yield from batches.flush()
            if writing is not Writing.MERGE and batches.written:
                # a first load creates every table; replacing the shop empties the tables its
                # payloads no longer have rows for
                yield from batches.missing_tables(platform.name, shop.name)
        finally:
            stats.requests = spooled.requests
            if spool is None:
                spooled.close()
        stats.orders, stats.quarantined = batches.orders, batches.quarantined
        stats.fetched = batches.fetched
        stats.late = list(batches.late_tables(platform.name, shop.name))
        record_fetch(stats, spooled, cursor, run, counted=ids is None)
        if ids is None and spooled.fetched is not None and not stats.late:
            state["cursor"] = stats.cursor

    return _source(platform.name, shop, pages, writing)


def platform_source(platform: Platform) -> Callable[..., DltSource]:
    """The platform as a dlt source of the kind dlt's verified sources are, for use in any dlt
    pipeline and destination: `haravan_source()` reads `base_url` from `[sources.haravan]`
    and the credentials from `.dlt/secrets.toml` (or takes them as arguments), and returns
    the very source `shopduck load` runs, merged on the contract's keys, its cursor in the
    pipeline's state. The signature is derived from the platform's declaration."""

    def source(
        base_url: str,
        shop: str | None,
        lookback_minutes: int,
        page_size: int | None,
        **settings: Any,
    ) -> Any:
        credentials = {key: settings.pop(key) for key in platform.credentials}
        configured = Shop(
            platform=platform.name,
            name=shop or urlsplit(base_url).netloc,
            base_url=base_url,
            secrets=credentials,
            lookback_minutes=lookback_minutes,
            page_size=page_size,
            options={key: value for key, value in settings.items() if value is not None},
        )
        run = RunOptions(started_at=datetime.now(UTC))
        return orders_source(platform, configured, run, FetchStats()).resources[RESOURCE]

    required = [Parameter("base_url", KEYWORD, default=dlt.config.value, annotation=str)]
    required += [
        Parameter(key, KEYWORD, default=dlt.secrets.value, annotation=str)
        for key in platform.credentials
    ]
    optional = [
        Parameter("shop", KEYWORD, default=None, annotation=Optional[str]),  # noqa: UP045
        Parameter("lookback_minutes", KEYWORD, default=DEFAULT_LOOKBACK_MINUTES, annotation=int),
        Parameter("page_size", KEYWORD, default=None, annotation=Optional[int]),  # noqa: UP045
    ]
    optional += [
        Parameter(key, KEYWORD, default=None, annotation=Optional[str])  # noqa: UP045
        for key in (*COMMON_OPTION_KEYS, *platform.options)
    ]
    source.__signature__ = Signature(required + optional)  # type: ignore[attr-defined]
    source.__name__ = source.__qualname__ = f"{platform.name}_source"
    source.__doc__ = f"{platform.name} orders: {platform_source.__doc__}"
    return dlt.source(source, name=platform.name, section=platform.name, max_table_nesting=0)


def late_source(platform: Platform, shop: Shop, stats: FetchStats) -> DltSource:
    """The second package of a load that read a newer copy of an order after handing its first
    copy to dlt: the newer copies, merged (so they replace the first ones, children included),
    and the cursor, committed with them."""

    def pages() -> Iterator[Any]:
        yield from stats.late
        if stats.cursor:
            dlt.current.resource_state()["cursor"] = stats.cursor

    return _source(platform.name, shop, pages, Writing.MERGE)


def _source(
    name: str, shop: Shop, pages: Callable[[], Iterator[Any]], writing: Writing
) -> DltSource:
    def shop_orders() -> Any:
        resource = dlt.resource(pages, name=RESOURCE)
        for table in TABLES:
            resource.apply_hints(create_table_variant=True, **table_hints(table, writing, shop))
        return resource

    return dlt.source(shop_orders, name=name, max_table_nesting=0)()
