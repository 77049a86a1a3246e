"""Runs a load: every shop is extracted concurrently (one dlt pipeline per shop, so each has its
own cursor and a failing shop costs nobody else anything) and, as each finishes, normalized and
loaded into the warehouse, one load at a time."""

from __future__ import annotations

import fcntl
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pandas  # noqa: F401  (see below)
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from pipelines.errors import ShopduckError, one_line
from pipelines.mapping import MappingPool
from pipelines.models import has_data
from pipelines.settings import DATASET
from pipelines.shop import RunOptions, Shop
from pipelines.source import FetchStats, late_source, orders_source, stored_cursor
from pipelines.warehouse import WarehouseLocked, open_duckdb
from platforms import PLATFORMS

# pandas is imported up front, in this thread: DuckDB imports it lazily from C++ when loading,
# and dlt, extracting in another thread at that moment, would find it half-initialized in
# `sys.modules` ("partially initialized module 'pandas' has no attribute 'DataFrame'").

log = logging.getLogger("shopduck")
# DuckDB takes 80 % of RAM by default; loads spill to disk beyond this limit instead. (128MB
# saves about 100 MB at the peak of a large backfill but makes it about 25 % slower.)
DUCKDB_SETTINGS = {"memory_limit": "256MB"}


class WarehouseBusy(ShopduckError):
    """Another load holds the warehouse."""


@dataclass
class ShopResult:
    """The outcome of one shop's load."""

    shop: Shop
    stats: FetchStats = field(default_factory=FetchStats)
    error: str | None = None
    load_info: str | None = None
    seconds: float = 0.0

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


def _pipelines_dir(warehouse: Path) -> Path:
    return warehouse.parent / ".shopduck" / warehouse.name


def _pipeline(shop: Shop, warehouse: Path, progress: str) -> dlt.Pipeline:
    # A loaded package's files are in the warehouse: keeping them would grow the pipeline
    # folder by every load.
    dlt.config["load.delete_completed_jobs"] = True
    return dlt.pipeline(
        pipeline_name=pipeline_name(shop),
        destination=dlt.destinations.duckdb(
            DuckDbCredentials(str(warehouse), global_config=DUCKDB_SETTINGS)
        ),
        dataset_name=DATASET,
        pipelines_dir=str(_pipelines_dir(warehouse)),
        progress=None if progress == "none" else progress,
    )


@contextmanager
def warehouse_lock(warehouse: Path, wait: float) -> Iterator[None]:
    """Hold the warehouse for writing: the writer lock that keeps two loads apart, and a
    writable DuckDB file (a notebook or `shopduck report` may hold it read-only). Waits at most
    `wait` seconds for each, then fails with one clear line."""
    lock_path = warehouse.parent / f".{warehouse.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(lock_path, "w") as handle:
        _wait_until(
            lambda: fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB),
            BlockingIOError,
            deadline,
            f"another shopduck load holds {warehouse} (waited {wait:.0f}s)",
        )
        try:
            _wait_until(
                lambda: open_duckdb(warehouse).close(),
                WarehouseLocked,
                deadline,
                f"{warehouse} is open in another program (a notebook or `shopduck report`?); "
                f"close it and run the load again",
            )
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_until(
    attempt: Callable[[], object], busy: type[Exception], deadline: float, message: str
) -> None:
    while True:
        try:
            attempt()
            return
        except busy:
            if time.monotonic() >= deadline:
                raise WarehouseBusy(message) from None
            time.sleep(0.2)


def load_shops(
    shops: list[Shop],
    warehouse: Path,
    options: RunOptions,
    progress: str = "none",
    *,
    only: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> list[ShopResult]:
    """Extract every shop concurrently (mapping on every core) and load each into the
    warehouse as soon as its extraction is done, one load at a time. `only`: per (platform,
    shop), just these order ids are fetched and merged, and cursors stay as they are
    (reconciliation)."""
    results = [ShopResult(shop) for shop in shops]
    in_warehouse = shops_in_warehouse(warehouse)
    preload = {PLATFORMS[shop.platform].map_order.__module__ for shop in shops}

    def extract(result: ShopResult) -> dlt.Pipeline | None:
        started = time.monotonic()
        shop = result.shop
        try:
            pipeline = _pipeline(shop, warehouse, progress)
            pending = (
                pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages()
            )
            platform = PLATFORMS[shop.platform]
            ids = None if only is None else only.get((shop.platform, shop.name), ())
            first_load = ids is None and not (
                pending
                or stored_cursor(pipeline, platform).read_until
                or (shop.platform, shop.name) in in_warehouse
            )
            source = orders_source(
                platform, shop, options, result.stats, mapping, first_load=first_load, ids=ids
            )
            pipeline.extract(source)
            if result.stats.late:
                pipeline.extract(late_source(platform, result.stats))
            if result.stats.missing:
                log.warning(
                    "%s: the API counts %d orders in the window but %d were read "
                    "(%d missing); `shopduck load --reconcile` fetches them",
                    shop.label,
                    result.stats.expected,
                    result.stats.fetched,
                    result.stats.missing,
                )
            if pending or result.stats.fetched:
                return pipeline
            pipeline.abort_packages()  # nothing changed: drop the cursor-only package
        except Exception as error:  # one shop's failure must not stop the others
            result.error = one_line(error)
            log.debug("%s: extraction failed: %s", shop.label, result.error)
        finally:
            result.seconds = time.monotonic() - started
        return None

    with (
        MappingPool(preload) as mapping,
        ThreadPoolExecutor(max_workers=max(1, min(8, len(shops)))) as threads,
    ):
        extractions = {threads.submit(extract, result): result for result in results}
        for finished, done in enumerate(as_completed(extractions), start=1):
            if finished == len(extractions):
                mapping.close()
            pipeline = done.result()
            if pipeline is not None:
                _load(pipeline, extractions[done])
    if only is None:
        record_runs(warehouse, results, options.started_at)
    return results


def _load(pipeline: dlt.Pipeline, result: ShopResult) -> None:
    started = time.monotonic()
    try:
        finish_interrupted_commit(pipeline)
        pipeline.normalize()
        result.load_info = str(pipeline.load())
    except Exception as error:
        result.error = one_line(error)
        log.debug("%s: load failed: %s", result.shop.label, result.error)
    result.seconds += time.monotonic() - started


# The order payloads are most of the warehouse. Compressed with zstd they take a sixth of the
# space DuckDB's default string compression takes, and load faster (50,000 Haravan orders:
# 10 MB instead of 67 MB, 0.5 s instead of 2.2 s to write). dlt creates only the tables and
# columns that are missing, so this table is created first, with the columns dlt would create.
RAW_ORDERS_DDL = f"""
create table if not exists {DATASET}.raw_orders (
    platform varchar not null, shop varchar not null, order_id varchar not null,
    updated_at timestamptz, payload json using compression zstd
)"""


def shops_in_warehouse(warehouse: Path) -> set[tuple[str, str]]:
    """(platform, shop) of every shop with orders in the warehouse. Creates `raw_orders` in a
    new warehouse (see RAW_ORDERS_DDL)."""
    with open_duckdb(warehouse) as con:
        con.execute(f"create schema if not exists {DATASET}")
        con.execute(RAW_ORDERS_DDL)
        if not has_data(con):
            return set()
        rows = con.execute(f"select distinct platform, shop from {DATASET}.orders").fetchall()
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


def record_runs(warehouse: Path, results: list[ShopResult], started_at: datetime) -> None:
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
    with open_duckdb(warehouse) as con:
        _append_runs(con, rows)
        con.execute(SHOPS_DDL)
        for result in results:
            shop = result.shop
            con.execute(
                f"delete from {DATASET}.shops where platform = ? and shop = ?",
                [shop.platform, shop.name],
            )
            con.execute(
                f"insert into {DATASET}.shops values (?, ?, ?)",
                [shop.platform, shop.name, shop.timezone],
            )


SHOPS_DDL = f"""
create table if not exists {DATASET}.shops (platform varchar, shop varchar, timezone varchar)"""


def append_runs(warehouse: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows (column -> value, any subset of RUN_COLUMNS) to `commerce.load_runs`,
    adding the columns an older warehouse's table lacks."""
    with open_duckdb(warehouse) as con:
        _append_runs(con, rows)


def _append_runs(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in RUN_COLUMNS.items())
    con.execute(f"create schema if not exists {DATASET}")
    con.execute(f"create table if not exists {DATASET}.load_runs ({columns})")
    for name, kind in RUN_COLUMNS.items():
        con.execute(f"alter table {DATASET}.load_runs add column if not exists {name} {kind}")
    for row in rows:
        names, marks = ", ".join(row), ", ".join("?" for _ in row)
        con.execute(
            f"insert into {DATASET}.load_runs ({names}) values ({marks})", list(row.values())
        )
