"""The shared source core: a shop's configuration, a platform's description, the updated_at
window, and the dlt source that turns API pages into arrow tables for the warehouse."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

import dlt
from dlt.extract import DltSource

from pipelines.batches import OneCopyBatches
from pipelines.errors import ShopduckError
from pipelines.http import ApiClient, ApiError, RetryPolicy
from pipelines.mapping import MappingJob, MappingPool
from pipelines.paging import Page, prefetched
from transforms.batch import OrderMapper
from transforms.tables import (
    JSON_COLUMNS,
    ORDER_KEY,
    RESET_MARKER,
    TABLES,
    Rows,
    Table,
)
from transforms.values import MappingError, timestamp

log = logging.getLogger("shopduck.fetch")
T = TypeVar("T")
R = TypeVar("R")


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

    @property
    def label(self) -> str:
        """`platform/shop`, as output names a shop."""
        return f"{self.platform}/{self.name}"

    @property
    def timezone(self) -> str:
        """The shop's calendar for reporting days (`TIMEZONE`, an IANA name; UTC by default)."""
        return str(self.options.get("timezone") or "UTC")

    def secret(self, key: str) -> str:
        """A credential; a missing one is a configuration error naming the key, not the value."""
        value = self.secrets.get(key)
        if not value:
            raise ShopduckError(
                f"{self.label}: missing credential SOURCES__{self.platform.upper()}__{key.upper()}"
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
    fetched: int = 0  # distinct orders read, mapped or quarantined
    expected: int | None = None  # the API's own count of them, where it can count
    cursor: dict[str, Any] = field(default_factory=dict)
    late: list[Any] = field(default_factory=list)  # tables for `late_source`

    @property
    def missing(self) -> int:
        """Orders the API counts but the run did not read (0 where nothing is expected)."""
        return max(0, (self.expected or 0) - self.fetched)


Fetch = Callable[[ApiClient, Shop, Mapping[str, Any], RunOptions], Generator[Page, None, "Fetched"]]
ListVersions = Callable[[ApiClient, Shop], Iterator[tuple[str, datetime | None]]]
FetchIds = Callable[[ApiClient, Shop, Sequence[str]], Iterator[Page]]


@dataclass(frozen=True)
class Platform:
    """How to read one platform: connect (auth, pacing), fetch pages (cursor, paging), map;
    for reconciliation, list every order id with its last change as cheaply as the API allows
    and fetch orders by id."""

    name: str
    connect: Callable[[Shop, RetryPolicy], ApiClient]
    fetch: Fetch
    list_versions: ListVersions
    fetch_ids: FetchIds
    map_order: Callable[..., Rows]
    mapper_options: tuple[str, ...] = ()  # shop options the mapper takes (Lunasoft: currency)

    def mapper(self, shop: Shop) -> OrderMapper:
        """`map_order` with the shop's options it needs bound."""
        options = {k: shop.options[k] for k in self.mapper_options if k in shop.options}
        return partial(self.map_order, **options) if options else self.map_order


@dataclass(frozen=True)
class Fetched:
    """What a fetch learned, returned when its last page has been read: the cursor to store
    with the data it covers, and the API's own count of the orders the run asked for (None
    where the API cannot count, or where counting was not worth a request)."""

    cursor: dict[str, Any]
    expected: int | None = None


def count_or_none(
    client: ApiClient, path: str, params: Mapping[str, Any], decode: Callable[[bytes], int]
) -> int | None:
    """The API's count of the orders a request matches; None, with a warning, when the API
    cannot say: a count checks a load, it is no reason to fail one."""
    try:
        return client.get(path, params, decode)
    except ApiError as error:
        log.warning("%s: cannot count the orders read: %s", client.shop, error)
        return None


@dataclass(frozen=True)
class Window:
    """An updated_at window: orders updated in [start, end]; `start` None means everything."""

    start: datetime | None
    end: datetime


def updated_window(
    cursor: Mapping[str, Any], shop: Shop, run: RunOptions, *, precision: timedelta
) -> Window:
    """The window to read: from the earlier of `--since` and the stored cursor less the lookback
    (everything on a first or full-refresh run without `--since`) up to the run's fixed start
    time, so that no run skips time that no run has read. With a coarse filter (Spiffy's
    minutes) the start is floored and the end rounded up, so an order updated later in the
    cursor's minute is still read."""
    end = _floor(run.started_at, precision)
    if end < run.started_at:
        end += precision
    stored = None if run.full_refresh else cursor.get("updated_at")
    starts = [run.since] if run.since is not None else []
    if stored:
        starts.append(datetime.fromisoformat(stored) - timedelta(minutes=shop.lookback_minutes))
    start = _floor(min(starts), precision) if starts else None
    return Window(start, end)


def window_params(window: Window, time_format: Callable[[datetime], str]) -> dict[str, str]:
    """`updated_at_min` / `updated_at_max` for a window, in the API's time format."""
    params = {"updated_at_max": time_format(window.end)}
    if window.start is not None:
        params["updated_at_min"] = time_format(window.start)
    return params


@dataclass(frozen=True)
class TrailingWindow:
    """For platforms without an updated filter (MerchantPro, Lunasoft): the orders created
    since `created_from` are read again, and those changed since `changed_since` are loaded.
    None means every order (`created_from`) or every order read (`changed_since`)."""

    created_from: datetime | None
    changed_since: datetime | None


def trailing_window(
    cursor: Mapping[str, Any], shop: Shop, run: RunOptions, trailing_days: int
) -> TrailingWindow:
    """The trailing creation window of a run: everything on a first or full-refresh run without
    `--since`; otherwise the last `trailing_days` of creation dates (widened to `--since`),
    loading what changed since the previous run less the lookback (or since `--since`, if
    earlier)."""
    loaded_at = None if run.full_refresh else cursor.get("loaded_at")
    if loaded_at is None and run.since is None:
        return TrailingWindow(None, None)
    created = [run.started_at - timedelta(days=trailing_days)]
    changed = []
    if run.since is not None:
        created.append(run.since)
        changed.append(run.since)
    if loaded_at is not None:
        changed.append(datetime.fromisoformat(loaded_at) - timedelta(minutes=shop.lookback_minutes))
    return TrailingWindow(min(created), min(changed))


def next_cursor(cursor: Mapping[str, Any], run: RunOptions, **values: Any) -> dict[str, Any]:
    """The cursor to store after a run: `values` (what the platform reads from next time) and
    `history_from`, the date before which the warehouse holds no history of the shop because its
    first load (or a full refresh) was a `--since` partial backfill; a later `--since` that
    reaches further back moves it earlier."""
    if run.full_refresh or not cursor:
        history_from = run.since
    else:
        stored = cursor.get("history_from")
        history_from = datetime.fromisoformat(stored) if stored else None
        if history_from is not None and run.since is not None:
            history_from = min(history_from, run.since)
    if history_from is None:
        return dict(values)
    return {**values, "history_from": history_from.isoformat()}


def listed_versions(records: Iterable[Any], field: str) -> Iterator[tuple[str, datetime | None]]:
    """(id, last change) of listed records decoded as structs with `id` and `field`. Records
    without a usable id are skipped (the load quarantines them); a change time that cannot be
    read is None, so reconciliation refreshes that order."""
    for record in records:
        if record is None or record.id is None or isinstance(record.id, dict | list | bool):
            continue
        try:
            changed = timestamp(getattr(record, field))
        except MappingError:
            changed = None
        yield str(record.id), changed


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


class Returned(Generic[T, R]):
    """Iterates a generator and keeps the value it returns (the fetch's `Fetched`)."""

    def __init__(self, generator: Generator[T, None, R]) -> None:
        self._generator = generator
        self.value: R | None = None

    def __iter__(self) -> Iterator[T]:
        self.value = yield from self._generator


def orders_source(
    platform: Platform,
    shop: Shop,
    run: RunOptions,
    stats: FetchStats,
    mapping: MappingPool,
    *,
    first_load: bool = False,
    ids: Sequence[str] | None = None,
) -> DltSource:
    """The dlt source of one shop: a single resource that yields, per batch of orders, an arrow
    table for every warehouse table. Pages are fetched a few ahead and mapped by `mapping`'s
    worker processes, one copy of every order kept (see `pipelines.batches`). The cursor is
    saved in dlt's resource state only after the last page, so it is committed together with
    the data it covers; if a newer copy of an order came after its first copy was handed to
    dlt, the cursor waits for `late_source`, which replaces that copy in a second package.
    `first_load`: the warehouse holds nothing of this shop, so the tables are appended to
    instead of merged. `ids`: fetch just these orders (reconciliation), cursor untouched."""

    def pages() -> Iterator[Any]:
        state = dlt.current.resource_state()
        cursor: dict[str, Any] = dict(state.get("cursor", {}))
        client = platform.connect(shop, run.retry)
        job = MappingJob(
            platform.mapper(shop), platform.name, shop.name, run.started_at, not first_load
        )
        batches = OneCopyBatches(BATCH_ORDERS)
        fetch = Returned(
            platform.fetch(client, shop, cursor, run)
            if ids is None
            else _no_cursor(platform.fetch_ids(client, shop, ids))
        )
        try:
            with closing(prefetched(iter(fetch))) as fetched:
                for mapped, page_count in mapping.map(job, fetched):
                    stats.pages += page_count
                    stats.requests = client.requests
                    yield from batches.add(mapped)
            yield from batches.flush()
            if first_load and batches.written:
                yield from batches.missing_tables(platform.name, shop.name)
        finally:
            stats.requests = client.requests
            client.close()
        stats.orders, stats.quarantined = batches.orders, batches.quarantined
        stats.fetched = batches.fetched
        stats.late = list(batches.late_tables(platform.name, shop.name))
        if fetch.value is not None and fetch.value.cursor:
            stats.expected = fetch.value.expected
            stats.cursor = fetch.value.cursor
            if not stats.late:
                state["cursor"] = stats.cursor

    return _source(platform.name, pages, merge=not first_load)


def late_source(platform: Platform, stats: FetchStats) -> DltSource:
    """The second package of a load that read a newer copy of an order after handing its first
    copy to dlt: the newer copies, merged (so they replace the first ones, children included),
    and the cursor, committed with them."""

    def pages() -> Iterator[Any]:
        yield from stats.late
        if stats.cursor:
            dlt.current.resource_state()["cursor"] = stats.cursor

    return _source(platform.name, pages, merge=True)


def _source(name: str, pages: Callable[[], Iterator[Any]], *, merge: bool) -> DltSource:
    def shop_orders() -> Any:
        resource = dlt.resource(pages, name="orders")
        for table in TABLES:
            resource.apply_hints(create_table_variant=True, **table_hints(table, merge=merge))
        return resource

    return dlt.source(shop_orders, name=name, max_table_nesting=0)()


def _no_cursor(pages: Iterator[Page]) -> Generator[Page, None, Fetched]:
    yield from pages
    return Fetched({})
