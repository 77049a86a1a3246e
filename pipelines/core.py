"""The shared source core: a shop's configuration, a platform's description, the updated_at
window, and the dlt source that turns API pages into arrow tables for the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract import DltSource

from pipelines.errors import ShopduckError
from pipelines.http import ApiClient, RetryPolicy
from pipelines.mapping import MappingJob, MappingPool
from pipelines.paging import Page, prefetched
from transforms.page import MappedBatch, OrderMapper
from transforms.tables import (
    JSON_COLUMNS,
    ORDER_KEY,
    RESET_MARKER,
    TABLES,
    Rows,
    Table,
    to_arrow,
)


@dataclass(frozen=True)
class Shop:
    """One configured shop. `secrets` holds credentials and is never printed."""

    platform: str
    name: str
    base_url: str
    secrets: Mapping[str, str] = field(repr=False)
    lookback_minutes: int = 10
    page_size: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def page_size_within(self, maximum: int) -> int:
        """The configured PAGE_SIZE, capped at the API's maximum (the maximum by default)."""
        return min(self.page_size or maximum, maximum)

    def secret(self, key: str) -> str:
        """A credential; a missing one is a configuration error naming the key, not the value."""
        value = self.secrets.get(key)
        if not value:
            raise ShopduckError(
                f"{self.platform}/{self.name}: missing credential "
                f"SOURCES__{self.platform.upper()}__{key.upper()}"
            )
        return value


@dataclass(frozen=True)
class RunOptions:
    """What one `shopduck load` asks for. `started_at` is the fixed upper bound of every
    updated_at window in the run, taken once when the run starts."""

    started_at: datetime
    full_refresh: bool = False
    since: datetime | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class FetchStats:
    """What a shop's extraction did, for the run summary and `shopduck status`."""

    orders: int = 0
    pages: int = 0
    quarantined: int = 0
    requests: int = 0
    cursor: dict[str, Any] = field(default_factory=dict)


Fetch = Callable[[ApiClient, Shop, dict[str, Any], RunOptions], Iterator[Page]]
ListIds = Callable[[ApiClient, Shop], Iterator[Page]]


@dataclass(frozen=True)
class Platform:
    """How to read one platform: connect (auth, pacing), fetch pages (cursor, paging), map,
    and list every order id as cheaply as the API allows (for reconciliation)."""

    name: str
    connect: Callable[[Shop, RetryPolicy], ApiClient]
    fetch: Fetch
    list_ids: ListIds
    map_order: Callable[..., Rows]
    mapper_options: tuple[str, ...] = ()  # shop options the mapper takes (Lunasoft: currency)

    def mapper(self, shop: Shop) -> OrderMapper:
        """`map_order` with the shop's options it needs bound."""
        options = {k: shop.options[k] for k in self.mapper_options if k in shop.options}
        return partial(self.map_order, **options) if options else self.map_order


@dataclass(frozen=True)
class Window:
    """An updated_at window: orders updated in [start, end]; `start` None means everything.
    `cursor` is what to store once the window is loaded: the run's exact start time."""

    start: datetime | None
    end: datetime
    cursor: str


def updated_window(
    cursor: Mapping[str, Any], shop: Shop, run: RunOptions, *, precision: timedelta
) -> Window:
    """The window to read: from the stored cursor less the lookback (or `--since`) up to the
    run's fixed start time. With a coarse filter (Spiffy's minutes) the start is floored and the
    end rounded up, so an order updated later in the cursor's minute is still read."""
    end = _floor(run.started_at, precision)
    if end < run.started_at:
        end += precision
    next_cursor = run.started_at.isoformat()
    if run.since is not None:
        return Window(_floor(run.since, precision), end, next_cursor)
    stored = cursor.get("updated_at")
    if run.full_refresh or not stored:
        return Window(None, end, next_cursor)
    start = datetime.fromisoformat(stored) - timedelta(minutes=shop.lookback_minutes)
    return Window(_floor(start, precision), end, next_cursor)


def window_params(window: Window, time_format: Callable[[datetime], str]) -> dict[str, str]:
    """`updated_at_min` / `updated_at_max` for a window, in the API's time format."""
    params = {"updated_at_max": time_format(window.end)}
    if window.start is not None:
        params["updated_at_min"] = time_format(window.start)
    return params


def created_window_start(
    cursor: Mapping[str, Any], run: RunOptions, trailing_days: int
) -> datetime | None:
    """Start of the trailing creation-date window re-read by platforms without an updated
    filter; None (everything) on the first or a full-refresh run."""
    if run.since is not None:
        return run.since
    if run.full_refresh or not cursor.get("loaded_at"):
        return None
    return run.started_at - timedelta(days=trailing_days)


def changed_since(cursor: Mapping[str, Any], shop: Shop, run: RunOptions) -> datetime | None:
    """For platforms without an updated filter: an order re-read in the trailing window counts
    as changed if it was modified after the previous run started, less the lookback. None when
    every order read is to be loaded (first run, full refresh, `--since`)."""
    if run.since is not None or run.full_refresh or not cursor.get("loaded_at"):
        return None
    return datetime.fromisoformat(cursor["loaded_at"]) - timedelta(minutes=shop.lookback_minutes)


def _floor(moment: datetime, precision: timedelta) -> datetime:
    moment = moment.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // precision) * precision


def table_hints(table: Table, *, merge: bool) -> dict[str, Any]:
    """dlt hints of a warehouse table. Merging (delete-insert on the table's key; child tables
    also on the order key, with `_reset_marker` rows deleting) replaces what a shop loaded
    before; a shop's first load has nothing to replace and is appended, which is much cheaper."""
    columns: dict[str, Any] = {
        name: {"data_type": "json"} for name in JSON_COLUMNS.get(table.name, ())
    }
    if table.child_of_order:
        columns[RESET_MARKER] = {"data_type": "bool", "hard_delete": merge}
    if not merge:
        return {"table_name": table.name, "write_disposition": "append", "columns": columns}
    return {
        "table_name": table.name,
        "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
        "primary_key": list(table.key),
        "merge_key": list(ORDER_KEY) if table.child_of_order else None,
        "columns": columns,
    }


BATCH_ORDERS = 2000  # orders whose arrow tables are handed to dlt together


def orders_source(
    platform: Platform,
    shop: Shop,
    run: RunOptions,
    stats: FetchStats,
    mapping: MappingPool,
    *,
    first_load: bool = False,
) -> DltSource:
    """The dlt source of one shop: a single resource that yields, per batch of orders, an arrow
    table for every warehouse table. Pages are fetched a few ahead and mapped by `mapping`'s
    worker processes. The cursor is saved in dlt's resource state only after the last page, so
    it is committed together with the data it covers. `first_load`: the warehouse holds nothing
    of this shop, so the tables are appended to instead of merged."""

    def pages() -> Iterator[Any]:
        state = dlt.current.resource_state()
        cursor: dict[str, Any] = {} if run.full_refresh else dict(state.get("cursor", {}))
        client = platform.connect(shop, run.retry)
        job = MappingJob(
            platform.mapper(shop), platform.name, shop.name, run.started_at, not first_load
        )
        batch = TableBatch()
        try:
            with closing(prefetched(platform.fetch(client, shop, cursor, run))) as fetched:
                for mapped, page_count in mapping.map(job, fetched):
                    stats.pages += page_count
                    stats.requests = client.requests
                    stats.orders += mapped.orders
                    stats.quarantined += mapped.quarantined
                    batch.add(mapped)
                    if batch.orders >= BATCH_ORDERS:
                        yield from batch.flush()
            yield from batch.flush()
            if first_load and batch.written:
                yield from batch.missing_tables(platform.name, shop.name)
        finally:
            stats.requests = client.requests
            client.close()
        state["cursor"] = cursor
        stats.cursor = dict(cursor)

    def shop_orders() -> Any:
        resource = dlt.resource(pages, name="orders")
        for table in TABLES:
            hints = table_hints(table, merge=not first_load)
            resource.apply_hints(create_table_variant=True, **hints)
        return resource

    return dlt.source(shop_orders, name=platform.name, max_table_nesting=0)()


@dataclass
class TableBatch:
    """Arrow tables of several mapped chunks, handed to dlt together: fewer, larger tables."""

    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    orders: int = 0
    written: set[str] = field(default_factory=set)  # tables flushed so far

    def add(self, mapped: MappedBatch) -> None:
        for name, data in mapped.tables.items():
            self.tables.setdefault(name, []).append(data)
        self.orders += mapped.orders + mapped.quarantined

    def flush(self) -> Iterator[Any]:
        """One arrow table per warehouse table, marked with its table name; empties the batch."""
        for name, parts in self.tables.items():
            yield dlt.mark.with_table_name(pa.concat_tables(parts), name)
        self.written.update(self.tables)
        self.tables, self.orders = {}, 0

    def missing_tables(self, platform: str, shop: str) -> Iterator[Any]:
        """An empty arrow table for every table no batch had rows for: a first load creates
        them all, so the reporting models find every table."""
        for table in TABLES:
            if table.name not in self.written:
                empty = to_arrow(table, platform, shop, [])
                yield dlt.mark.with_table_name(empty, table.name)
