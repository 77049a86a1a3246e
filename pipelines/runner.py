"""Runs a load: every shop is fetched at once by one event loop into its spool (see
`pipelines.fetching`), and, as each fetch finishes, extracted by a pool sized by cores (one dlt
pipeline per shop, so each has its own cursor and a failing shop costs nobody else anything),
normalized and loaded into the warehouse, one load at a time. A few shops are extracted while
they are still being fetched: a large backfill, and, when the loader has nothing else to do,
the shops whose fetches take longest, so that little is left to do once their last pages
arrive."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import shutil
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt

from pipelines.batches import KeptPayloads
from pipelines.errors import one_line
from pipelines.fetching import FetchLoop, Spool, read_into
from pipelines.mapping import MappingPool, usable_cores
from pipelines.models import has_data
from pipelines.paging import Page
from pipelines.settings import DATASET, remember_secret_hints, use_dlt_settings
from pipelines.shop import RunOptions, Shop
from pipelines.source import (
    FetchStats,
    Writing,
    late_source,
    orders_source,
    record_fetch,
    stored_cursor,
)
from pipelines.sql import Database
from pipelines.warehouse import SCHEMA_LOCK, ShopBusy, Warehouse, as_warehouse
from platforms import PLATFORMS

log = logging.getLogger("shopduck")
# A shop's extraction starts once this many orders are spooled, before its fetch ends: a large
# backfill is mapped while it is fetched; a small shop is extracted in one go when fetched.
READ_EARLY_ORDERS = 5000
# Shops extracted while their fetch still runs, at once: each holds a thread and dlt's buffers
# until its last page arrives, so they are few whatever the number of shops.
EXTRACTIONS_WHILE_FETCHING = 4
# Seconds without anything to do after which the loader is idle: it then extracts the shops
# still fetching (as their pages arrive) and checkpoints the warehouse (what it has loaded is
# written into the file now, rather than all at once when the run ends).
IDLE_SECONDS = 1.0


@dataclass
class ShopResult:
    """The outcome of one shop's load."""

    shop: Shop
    stats: FetchStats = field(default_factory=FetchStats)
    error: str | None = None
    load_info: str | None = None
    seconds: float = 0.0
    skipped: bool = False  # another process was loading the shop (not a failure)

    @property
    def ok(self) -> bool:
        return self.error is None


def finish_interrupted_commit(pipeline: dlt.Pipeline) -> None:
    """Repair dlt's one unsafe crash window (dlt 1.31, the version pinned in pyproject.toml;
    recheck on upgrade). Normalizing commits a package by moving it to `load/normalized` and
    then deleting its extracted copy; a process killed between the two leaves both, and the
    next normalize fails on the duplicate package. The normalized copy is complete, so the
    stale extracted copy is the one to drop."""
    working = Path(pipeline.working_dir)
    extracted, normalized = working / "normalize" / "extracted", working / "load" / "normalized"
    if extracted.is_dir():
        for package in extracted.iterdir():
            if (normalized / package.name).is_dir():
                log.warning(
                    "%s: finishing interrupted commit of package %s",
                    pipeline.pipeline_name,
                    package.name,
                )
                shutil.rmtree(package)


def pipeline_name(shop: Shop) -> str:
    """The dlt pipeline of a shop: one per platform and shop label."""
    slug = re.sub(r"[^a-z0-9]+", "_", shop.name.lower()).strip("_")
    return f"shopduck_{shop.platform}_{slug}"


def _pipeline(shop: Shop, warehouse: Warehouse, progress: str) -> dlt.Pipeline:
    name = pipeline_name(shop)
    return dlt.pipeline(
        pipeline_name=name,
        destination=warehouse.destination(name.removeprefix("shopduck_")),
        dataset_name=DATASET,
        pipelines_dir=str(warehouse.pipelines_dir),
        progress=None if progress == "none" else progress,
    )


@dataclass(eq=False)  # a run is itself: the loop's lists find it by identity
class ShopRun:
    """One shop's part of a load: its lock, its pipeline, where its fetch starts, its spool."""

    result: ShopResult
    lock: ExitStack
    pipeline: dlt.Pipeline
    writing: Writing
    pending: bool  # packages of an earlier run wait to be loaded
    ids: Sequence[str] | None
    spool: Spool
    kept: KeptPayloads | None  # a replay's: the payloads `raw_orders` holds
    started: float = field(default_factory=time.monotonic)
    while_fetching: bool = False  # its extraction began before its fetch ended


def load_shops(
    shops: list[Shop],
    warehouse: Warehouse | Path,
    options: RunOptions,
    progress: str = "none",
    *,
    only: Mapping[tuple[str, str], Sequence[str]] | None = None,
    stored: Callable[[Shop, KeptPayloads], Generator[Page, None, None]] | None = None,
) -> list[ShopResult]:
    """Fetch every shop at once, each paced by its own rate limit; extract each (mapping on
    every core) as its fetch finishes (a few, while the loader is idle or for a large
    backfill, as their pages arrive), and load it into the warehouse as soon as its
    extraction is done, one load at a time. `only`: per (platform, shop), just these order
    ids are fetched and merged, and cursors stay as they are (reconciliation). `stored`: each
    shop's pages come from here instead of its API, and replace every row of the shop, with
    cursors as they are (replay). A shop another process is loading is skipped
    (`ShopResult.skipped`)."""
    warehouse = as_warehouse(warehouse)
    use_dlt_settings()
    remember_secret_hints()
    results = [ShopResult(shop) for shop in shops]
    preload = {PLATFORMS[shop.platform].map_order.__module__ for shop in shops}
    events: queue.Queue[tuple[bool, ShopRun]] = queue.Queue()  # (extracted?, shop)

    def start(result: ShopResult, fetching: FetchLoop, locks: ExitStack) -> ShopRun | None:
        shop = result.shop
        lock = locks.enter_context(ExitStack())
        try:
            # Before the pipeline folder is touched: a shop's folder and its cursor belong to
            # the process holding the shop; the lock is released once the shop is loaded.
            lock.enter_context(warehouse.shop_lock(shop.label))
            pipeline = _pipeline(shop, warehouse, progress)
            pending = bool(
                pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages()
            )
            platform = PLATFORMS[shop.platform]
            known = (shop.platform, shop.name) in in_warehouse
            cursor = stored_cursor(pipeline, platform)
            if not pending and cursor.read_until is None and known:
                # The shop was loaded from another pipeline folder (another host, a lost
                # folder): resume from the cursor stored in the warehouse, not from scratch.
                pipeline.sync_destination()
                cursor = stored_cursor(pipeline, platform)
            ids = None if only is None else only.get((shop.platform, shop.name), ())
            if stored is not None:
                # a replay: every row of the shop replaced, no cursor moves, nothing counted
                ids, writing = (), Writing.REPLACE_SHOP
            elif ids is None and not (pending or cursor.read_until or known):
                writing = Writing.APPEND  # the shop's first load
            else:
                writing = Writing.MERGE
            spool = Spool(
                warehouse.pipelines_dir,
                on_ready=lambda: events.put((False, run)),
                read_early=READ_EARLY_ORDERS,
            )
            kept = None if stored is None else KeptPayloads()
            run = ShopRun(result, lock, pipeline, writing, pending, ids, spool, kept)
            if stored is None:
                fetching.fetch(spool, platform, shop, cursor, options, ids)
            else:  # read on a thread: the shop is mapped while its pages are read
                reading.submit(read_into, spool, stored(shop, kept))
            return run
        except ShopBusy:
            result.skipped = True
        except Exception as error:  # one shop's failure must not stop the others
            result.error = one_line(error)
            log.debug("%s: could not start: %s", shop.label, result.error)
        lock.close()
        return None

    def extract(run: ShopRun) -> None:
        try:
            _extract(run, options, mapping)
        finally:
            run.result.stats.requests = run.spool.requests  # failed or not
            run.spool.close()
            run.result.seconds = time.monotonic() - run.started
            events.put((True, run))

    def begin(run: ShopRun) -> None:
        """Extract a shop: here at once if there is nothing for dlt; else on a thread of the
        pool for a fetch that has ended, or of the EXTRACTIONS_WHILE_FETCHING (reading its
        pages as they arrive)."""
        waiting.remove(run)
        extracting.append(run)
        if _nothing_new(run):
            extract(run)
            return
        # DuckDB imports pandas lazily from C++ when loading (in this thread); dlt, extracting
        # in another thread at that moment, would find it half-initialized in `sys.modules`.
        # So it is imported here first, and only by runs that load (unless the process does
        # without it, see `cli.run`).
        with contextlib.suppress(ImportError):
            import pandas  # noqa: F401

        mapping.start_server()
        if run.spool.done:
            extractors.submit(extract, run)
        else:
            run.while_fetching = True
            while_fetching.submit(extract, run)

    def free_while_fetching() -> int:
        """Threads of the EXTRACTIONS_WHILE_FETCHING not reading a shop's pages."""
        return EXTRACTIONS_WHILE_FETCHING - sum(run.while_fetching for run in extracting)

    def use_idle_time(loaded: bool) -> None:
        """Begin extracting the shops still fetching that have most orders spooled, as many as
        threads are free for it; checkpoint the warehouse if a load has written to it."""
        spooled = sorted(
            (run for run in waiting if run.spool.pages),
            key=lambda run: run.spool.orders,
            reverse=True,
        )
        for run in spooled[: free_while_fetching()]:
            begin(run)
        if loaded:
            warehouse.checkpoint()

    with (
        warehouse.kept_open(),
        ExitStack() as locks,
        FetchLoop() as fetching,
        MappingPool(preload) as mapping,
        ThreadPoolExecutor(max_workers=usable_cores()) as extractors,
        ThreadPoolExecutor(max_workers=EXTRACTIONS_WHILE_FETCHING) as while_fetching,
        ThreadPoolExecutor(max_workers=1) as reading,  # a replay's pages, shop after shop
    ):
        in_warehouse = shops_in_warehouse(warehouse)
        # The shops not yet extracting, and those extracting; once extracted, only the queued
        # event holds a shop's run, so its pipeline is freed once it is loaded.
        waiting = [run for result in results if (run := start(result, fetching, locks))]
        extracting: list[ShopRun] = []
        unfinished, loaded = len(waiting), False
        while unfinished:
            try:
                extracted, run = events.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                use_idle_time(loaded)
                loaded = False
                continue
            if not extracted:
                # Its fetch has ended, or a large backfill's has spooled enough to begin: then
                # only on a free thread (else it begins when its fetch ends, or when idle). Its
                # extraction may have begun already, while the loader was idle.
                if run in waiting and (run.spool.done or free_while_fetching() > 0):
                    begin(run)
                continue
            unfinished -= 1
            extracting.remove(run)
            if not unfinished:
                mapping.close()
            if run.result.ok and (run.pending or run.result.stats.fetched):
                _load(warehouse, run.pipeline, run.result)
                loaded = True
            run.lock.close()
        if only is None and stored is None:
            record_runs(warehouse, [r for r in results if not r.skipped], options.started_at)
        if loaded:
            # What the loads wrote goes into the file before the models' rebuild: the peak
            # memory of a backfill, which came in the rebuild and the checkpoint as the file
            # closed, is 10-15 MB lower (50,000 orders: a median of 386 MB against 397, 7 runs).
            warehouse.checkpoint()
    return results


def _extract(run: ShopRun, options: RunOptions, mapping: MappingPool) -> None:
    """Extract a shop's spooled pages into its pipeline (the late copies in a second package);
    a failure is the shop's error, never raised."""
    result, shop, pipeline = run.result, run.result.shop, run.pipeline
    platform = PLATFORMS[shop.platform]
    try:
        if run.spool.error is not None and not run.pending:  # nothing to extract
            raise run.spool.error
        if _nothing_new(run):
            # No package to extract, normalize or load; what the fetch learned is recorded,
            # and the stored cursor stays (the next window starts there again).
            record_fetch(
                result.stats,
                run.spool,
                stored_cursor(pipeline, platform),
                options,
                counted=run.ids is None,
            )
            return
        source = orders_source(
            platform,
            shop,
            options,
            result.stats,
            mapping,
            writing=run.writing,
            ids=run.ids,
            spool=run.spool,
            kept=run.kept,
        )
        pipeline.extract(source)
        if result.stats.late:
            pipeline.extract(late_source(platform, shop, result.stats))
        if result.stats.missing:
            log.warning(
                "%s: the API counts %d orders in the window but %d were read "
                "(%d missing); `shopduck load --reconcile` fetches them",
                shop.label,
                result.stats.expected,
                result.stats.fetched,
                result.stats.missing,
            )
        if not (run.pending or result.stats.fetched):
            pipeline.abort_packages()  # nothing changed: drop the cursor-only package
    except Exception as error:  # one shop's failure must not stop the others
        result.error = one_line(error)
        log.debug("%s: extraction failed: %s", shop.label, result.error)


def _nothing_new(run: ShopRun) -> bool:
    """Whether a shop's run has nothing for dlt: its fetch ended without a page (well or not)
    and no package of an earlier run waits."""
    return run.spool.done and not (run.spool.pages or run.pending)


def _load(warehouse: Warehouse, pipeline: dlt.Pipeline, result: ShopResult) -> None:
    started = time.monotonic()
    try:
        finish_interrupted_commit(pipeline)
        pipeline.normalize()
        warehouse.migrate(pipeline)
        workers = warehouse.load_workers(_package_bytes(pipeline))
        result.load_info = str(pipeline.load(workers=workers))
    except Exception as error:
        result.error = warehouse.load_error(error)
        log.debug("%s: load failed: %s", result.shop.label, result.error)
    result.seconds += time.monotonic() - started


def _package_bytes(pipeline: dlt.Pipeline) -> int:
    """The size of the files a pipeline has normalized and not yet loaded."""
    normalized = Path(pipeline.working_dir) / "load" / "normalized"
    return sum(path.stat().st_size for path in normalized.rglob("*.parquet"))


def shops_in_warehouse(warehouse: Warehouse) -> set[tuple[str, str]]:
    """(platform, shop) of every shop with orders in the warehouse. Prepares a new warehouse
    (`Warehouse.prepare`)."""
    with warehouse.connect() as db:
        warehouse.prepare(db)
        if not has_data(db):
            return set()
        rows = db.rows(f"select distinct platform, shop from {DATASET}.orders")
    return {(platform, shop) for platform, shop in rows}


RUN_COLUMNS = {
    "platform": "varchar",
    "shop": "varchar",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "succeeded": "boolean",
    "orders": "bigint",  # orders mapped and loaded
    "quarantined": "bigint",
    "requests": "bigint",
    "cursor": "json",
    "error": "varchar",
    "fetched": "bigint",  # distinct orders read
    "expected": "bigint",  # the API's own count of them, where it can count
    "source_count": "bigint",  # reconciliation: orders the source lists
    "warehouse_count": "bigint",  # ... and the warehouse holds (not deleted), after healing
    "fetched_missing": "bigint",
    "refreshed_stale": "bigint",
    "flagged_deleted": "bigint",
}


def record_runs(
    warehouse: Warehouse | Path, results: list[ShopResult], started_at: datetime
) -> None:
    """Append each shop's outcome to `commerce.load_runs` (read by `shopduck status`), and each
    shop's reporting settings to `commerce.shops` (read by the reporting models)."""
    finished = datetime.now(UTC)
    rows = [
        {
            "platform": r.shop.platform,
            "shop": r.shop.name,
            "started_at": started_at,
            "finished_at": finished,
            "succeeded": r.ok,
            "orders": r.stats.orders,
            "quarantined": r.stats.quarantined,
            "requests": r.stats.requests,
            "cursor": json.dumps(r.stats.cursor),
            "error": r.error,
            "fetched": r.stats.fetched,
            "expected": r.stats.expected,
        }
        for r in results
    ]
    with as_warehouse(warehouse).connect() as db, db.transaction():
        _append_runs(db, rows)
        db.script(SHOPS_DDL)
        for result in results:
            key = {"platform": result.shop.platform, "shop": result.shop.name}
            db.rows(f"delete from {DATASET}.shops where platform = $platform and shop = $shop", key)
            db.rows(
                f"insert into {DATASET}.shops values ($platform, $shop, $timezone)",
                {**key, "timezone": result.shop.timezone},
            )


SHOPS_DDL = f"""
create table if not exists {DATASET}.shops (platform varchar, shop varchar, timezone varchar)"""


def append_runs(warehouse: Warehouse | Path, rows: list[dict[str, Any]]) -> None:
    """Append rows (column -> value, any subset of RUN_COLUMNS) to `commerce.load_runs`,
    adding the columns an older warehouse's table lacks."""
    with as_warehouse(warehouse).connect() as db, db.transaction():
        _append_runs(db, rows)


def _append_runs(db: Database, rows: list[dict[str, Any]]) -> None:
    """Inside a transaction. Loads on other hosts may create or alter the table at the same
    moment: the schema lock makes them take turns (concurrent `create table if not exists` of
    one table fails in Postgres)."""
    db.lock(SCHEMA_LOCK)
    columns = ", ".join(f"{name} {kind}" for name, kind in RUN_COLUMNS.items())
    db.script(f"create schema if not exists {DATASET}")
    db.script(f"create table if not exists {DATASET}.load_runs ({columns})")
    present = {
        name
        for (name,) in db.rows(
            "select column_name from information_schema.columns "
            "where table_schema = $schema and table_name = 'load_runs'",
            {"schema": DATASET},
        )
    }
    for name, kind in RUN_COLUMNS.items():
        if name not in present:
            db.script(f"alter table {DATASET}.load_runs add column {name} {kind}")
    for row in rows:
        names, marks = ", ".join(row), ", ".join(f"${name}" for name in row)
        db.rows(f"insert into {DATASET}.load_runs ({names}) values ({marks})", row)
