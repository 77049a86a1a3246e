"""Micro-benchmark of mapping: CPU per order of `map_batch` for each platform, over simulator
orders built in this process (no HTTP), and a digest of the tables it builds.

    uv run python benchmarks/mapping.py                      # ms/order, 2,000 orders a platform
    uv run python benchmarks/mapping.py --orders 500 spiffy  # one platform
    uv run python benchmarks/mapping.py --digest             # hash of the arrow tables
    uv run python benchmarks/mapping.py --profile haravan    # where the CPU goes

Timings are process CPU time (`time.process_time`), best of `--repeat` runs on a fixed input,
so that other work on the machine disturbs them little. The digest covers every platform's
simulator orders plus the test fixtures (some of which are quarantined): equal digests before
and after a change mean byte-identical tables.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import orjson
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platforms import PLATFORMS  # noqa: E402
from simulators.model import Store  # noqa: E402
from simulators.registry import SIMULATORS  # noqa: E402
from transforms import values  # noqa: E402
from transforms.batch import MappedBatch, OrderMapper, map_batch  # noqa: E402

NAMES = ("flickrocket", "haravan", "lunasoft", "merchantpro", "spiffy")
FIXTURES = ROOT / "tests" / "fixtures"
SEEN = datetime(2026, 1, 1, tzinfo=UTC)


def pages_of(platform: str, orders: int, seed: int, page_size: int) -> list[bytes]:
    """Compact JSON pages of a simulated shop's order payloads, as the API renders them."""
    spec = SIMULATORS[platform]
    store = Store(orders=orders, seed=seed, currencies=spec.currencies, clock=lambda: SEEN)
    api = spec.api(store, spec.authorization)
    payloads = [api.render(order) for order in store.orders.values()]
    return [orjson.dumps(payloads[i : i + page_size]) for i in range(0, len(payloads), page_size)]


def fixture_pages(platform: str) -> list[bytes]:
    """The test fixtures of a platform that are order payloads, one page each."""
    pages = []
    for path in sorted(FIXTURES.glob(f"{platform}*.json")):
        data = orjson.loads(path.read_bytes())
        if isinstance(data, dict):
            data = data.get("orders", [data])
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            pages.append(orjson.dumps(data))
    return pages


def mapper_of(platform: str) -> OrderMapper:
    mapper = PLATFORMS[platform].map_order
    return partial(mapper, currency="USD") if platform == "lunasoft" else mapper


def run(platform: str, pages: list[bytes]) -> MappedBatch:
    return map_batch(mapper_of(platform), platform, "shop", pages, SEEN, True)


def digest(batch: MappedBatch) -> str:
    """SHA-256 of the batch's tables in Arrow IPC form, by table name."""
    sha = hashlib.sha256()
    for name in sorted(batch.tables):
        table = batch.tables[name]
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        sha.update(name.encode())
        sha.update(sink.getvalue().to_pybytes())
    return sha.hexdigest()[:16]


def clear_caches() -> None:
    """Empty the parsers' caches, so that a run meets its orders as new, as a worker does."""
    for parser in vars(values).values():
        if hasattr(parser, "cache_clear"):
            parser.cache_clear()


def best_cpu(work: Callable[[], object], repeat: int) -> float:
    """The least process CPU time, in seconds, of `repeat` runs of `work`, each with empty
    parser caches."""
    times = []
    for _ in range(repeat):
        clear_caches()
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("platforms", nargs="*", default=NAMES)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--digest", action="store_true", help="print the tables' digests")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args()
    for platform in args.platforms:
        if args.digest:
            batch = run(platform, pages_of(platform, 600, 3, 100) + fixture_pages(platform))
            print(f"{platform:12s} {batch.orders} mapped {batch.quarantined} quarantined", end="")
            print(f" {digest(batch)}")
            continue
        pages = pages_of(platform, args.orders, 11, 250)
        gc.collect()  # the simulated shop's objects, so that collections during runs skip them
        if args.profile:
            run(platform, pages)  # warm: the first call imports and compiles
            profile = cProfile.Profile()
            profile.runcall(run, platform, pages)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            continue
        seconds = best_cpu(lambda: run(platform, pages), args.repeat)  # noqa: B023
        print(f"{platform:12s} {seconds / args.orders * 1e3:.4f} ms/order")


if __name__ == "__main__":
    main()
