"""Runs a load: every shop is extracted concurrently (one dlt pipeline per shop, so each has its
own cursor and a failing shop costs nobody else anything), then normalized and loaded into the
warehouse one at a time, and the reporting models are refreshed."""

from __future__ import annotations

import fcntl
import json
import logging
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import duckdb

from pipelines.core import FetchStats, RunOptions, Shop, orders_source
from pipelines.errors import ShopduckError, one_line
from pipelines.platforms import PLATFORMS
from pipelines.settings import DATASET, LOCK_WAIT_SECONDS

log = logging.getLogger("shopduck")


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


def pipeline_name(shop: Shop) -> str:
    """The dlt pipeline of a shop: one per platform and shop label."""
    slug = re.sub(r"[^a-z0-9]+", "_", shop.name.lower()).strip("_")
    return f"shopduck_{shop.platform}_{slug}"


def _pipelines_dir(warehouse: Path) -> Path:
    return warehouse.parent / ".shopduck" / warehouse.name


def _pipeline(shop: Shop, warehouse: Path, progress: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=pipeline_name(shop),
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name=DATASET,
        pipelines_dir=str(_pipelines_dir(warehouse)),
        progress=None if progress == "none" else progress,
    )


@contextmanager
def warehouse_lock(warehouse: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the warehouse's writer lock, waiting at most `wait` seconds for another load."""
    lock_path = warehouse.parent / f".{warehouse.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another shopduck load holds {warehouse} (waited {wait:.0f}s)"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_shops(
    shops: list[Shop], warehouse: Path, options: RunOptions, progress: str = "none"
) -> list[ShopResult]:
    """Extract every shop concurrently, then load each into the warehouse in turn."""
    results = [ShopResult(shop) for shop in shops]
    pipelines: dict[int, dlt.Pipeline] = {}

    def extract(index: int) -> None:
        result = results[index]
        started = time.monotonic()
        try:
            pipeline = _pipeline(result.shop, warehouse, progress)
            platform = PLATFORMS[result.shop.platform]
            pipeline.extract(orders_source(platform, result.shop, options, result.stats))
            pipelines[index] = pipeline
        except Exception as error:  # one shop's failure must not stop the others
            result.error = one_line(error)
            log.error(
                "%s/%s: extraction failed: %s", result.shop.platform, result.shop.name, result.error
            )
        result.seconds = time.monotonic() - started

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(shops)))) as pool:
        list(pool.map(extract, range(len(shops))))

    for index, pipeline in sorted(pipelines.items()):
        result = results[index]
        started = time.monotonic()
        try:
            pipeline.normalize()
            result.load_info = str(pipeline.load())
        except Exception as error:
            result.error = one_line(error)
            log.error(
                "%s/%s: load failed: %s", result.shop.platform, result.shop.name, result.error
            )
        result.seconds += time.monotonic() - started
    record_runs(warehouse, results, options.started_at)
    return results


RUNS_DDL = f"""
create table if not exists {DATASET}.load_runs (
    platform varchar, shop varchar, started_at timestamptz, finished_at timestamptz,
    succeeded boolean, orders bigint, quarantined bigint, requests bigint, cursor json,
    error varchar
)"""


def record_runs(warehouse: Path, results: list[ShopResult], started_at: datetime) -> None:
    """Append each shop's outcome to `commerce.load_runs` (read by `shopduck status`)."""
    finished = datetime.now(UTC)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create schema if not exists {DATASET}")
        con.execute(RUNS_DDL)
        con.executemany(
            f"insert into {DATASET}.load_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.shop.platform,
                    r.shop.name,
                    started_at,
                    finished,
                    r.ok,
                    r.stats.orders,
                    r.stats.quarantined,
                    r.stats.requests,
                    json.dumps(r.stats.cursor),
                    r.error,
                )
                for r in results
            ],
        )
