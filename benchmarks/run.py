"""shopduck benchmark (issues 14 and 16): measures what users feel and prints ONE table, every
figure beside its target.

    uv run python benchmarks/run.py                                  # the full run (~10 min)
    uv run python benchmarks/run.py --orders 5000 --repeat 1 \\
        --shops 2 5 --shop-orders 500 --pg-orders 2000 --report-orders 100000   # a quick look

Simulators run in their own processes (unthrottled unless a figure needs the rate limit), so
the loader is measured, not the fake server. Each load (and replay) runs in a fresh child
process; its wall time includes process start, and its peak memory is that of the whole
process tree (the mapping workers included). Timings are medians of `--repeat` runs; ratios
are measured side by side in the same run. benchmarks/README.md explains every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform as machine
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulators.registry import SIMULATORS, start_simulator  # noqa: E402
from simulators.server import FixedWindow, LeakyBucket  # noqa: E402

PLATFORMS = ("flickrocket", "haravan", "lunasoft", "merchantpro", "spiffy")
POSTGRES = os.environ.get(
    "SHOPDUCK_BENCH_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432"
)
# (trust authentication ignores the password; dlt asks for one)

# --- rate-limit bounds --------------------------------------------------------------------------
# Each shop's documented limit, as the simulators enforce it: Haravan's leaky bucket (80 calls,
# leaking 4 a second); the others, whose documents state none, a fixed window of 2 requests a
# second announced in X-RateLimit-* headers (whose first window also serves 2 at once).
RATE = {"haravan": 4.0}  # requests a second, steady state; 2.0 for the others
BURST = {"haravan": 80}  # requests served at once from an empty bucket / a fresh window; 2 else
# Orders per full list page the loader asks for and the simulator serves (Haravan and
# MerchantPro: the API's maximum `limit`; Flickrocket: the server's fixed page; Lunasoft: its
# fixed page; Spiffy: its `limit` cap).
PAGE = {"flickrocket": 25, "haravan": 250, "lunasoft": 50, "merchantpro": 100, "spiffy": 50}


def shop_bound(platform: str) -> float:
    """A shop's rate-limit bound in orders/s: steady requests/s x orders per page (Haravan's
    80-call burst not counted: it is a one-off, spent on the first 80 pages)."""
    return RATE.get(platform, 2.0) * PAGE[platform]


def forced_seconds(platform: str, orders: int) -> float:
    """The least time a shop's limit allows for backfilling `orders`: its data pages
    (ceil(orders / page)), less those the burst serves at once, at the steady rate."""
    pages = math.ceil(orders / PAGE[platform])
    return max(pages - BURST.get(platform, 2), 0) / RATE.get(platform, 2.0)


class Timed:
    """A simulator's rate limit that also notes when it counted its first and last request
    (epoch seconds), to split a load's wall time into start, fetching and the rest."""

    def __init__(self, limit: object) -> None:
        self.limit, self.first, self.last = limit, None, None

    def take(self, header: str | None) -> tuple[bool, dict[str, str]]:
        self.last = time.time()
        self.first = self.first or self.last
        return self.limit.take(header)


def _limit(platform: str, rate_limit: bool) -> object:
    if not rate_limit:
        return False
    return Timed(LeakyBucket() if platform == "haravan" else FixedWindow())


# --- simulators in their own processes ---------------------------------------------------------
def _serve(
    platforms: list[str],
    orders: int,
    rate_limit: bool,
    ready: multiprocessing.Queue,
    inbox: Connection,
) -> None:
    sims = [
        start_simulator(
            p, orders=orders, seed=i, rate_limit=_limit(p, rate_limit), retry_after="2.0"
        )
        for i, p in enumerate(platforms)
    ]
    for simulator in sims:
        simulator.warm()
    ready.put([simulator.base_url for simulator in sims])
    while True:  # commands from the benchmark: ("touch", share) edits that share of the orders
        command, share = inbox.recv()
        if command == "times":  # per shop: the first and last request its limit counted
            inbox.send([(sim.rate_limit.first, sim.rate_limit.last) for sim in sims])
            continue
        if command == "touch":
            for simulator in sims:
                ids = sorted(simulator.store.orders)
                for order_id in random.Random(len(ids)).sample(ids, round(share * len(ids))):
                    simulator.store.touch(order_id)
        inbox.send("done")


class SimulatorProcess:
    """Platform simulators (one or many shops) served by one child process."""

    def __init__(self, platforms: str | list[str], orders: int, rate_limit: bool = False) -> None:
        self.platforms = [platforms] if isinstance(platforms, str) else list(platforms)
        self.platform = self.platforms[0]
        queue: multiprocessing.Queue = multiprocessing.Queue()
        self._commands, inbox = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=_serve, args=(self.platforms, orders, rate_limit, queue, inbox), daemon=True
        )
        self.process.start()
        self.urls: list[str] = queue.get(timeout=1800)
        self.base_url = self.urls[0]

    def stats(self) -> list[dict]:
        """Requests served and 429s sent, per shop."""
        return [httpx.get(f"{url}/_simulator/stats").json() for url in self.urls]

    def touch(self, share: float) -> None:
        """Edit `share` of every shop's orders now (bumping updated_at)."""
        self._commands.send(("touch", share))
        self._commands.recv()

    def env(self, shop: str | None = None) -> dict[str, str]:
        """The environment variables that configure the shops reaching these simulators: one
        shop (named `shop`) for a single simulator, shops S000, S001, ... for several."""
        env: dict[str, str] = {}
        for number, (platform, url) in enumerate(zip(self.platforms, self.urls, strict=True)):
            spec = SIMULATORS[platform]
            if len(self.urls) == 1:
                prefix = f"SOURCES__{platform.upper()}__"
                values = {"SHOP": shop or f"bench-{platform}"}
            else:
                prefix = f"SOURCES__{platform.upper()}__SHOPS__S{number:03}__"
                values = {}
            values["BASE_URL"] = url
            values.update({k.upper(): v for k, v in {**spec.credentials, **spec.options}.items()})
            env.update({prefix + key: value for key, value in values.items()})
        return env

    def times(self) -> list[tuple[float | None, float | None]]:
        """Per shop (rate-limited simulators only): its first and last request, epoch seconds."""
        self._commands.send(("times", None))
        return self._commands.recv()

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


# --- one command in a fresh process ------------------------------------------------------------
CHILD = """
import atexit, json, re, time
started = time.perf_counter()

@atexit.register
def report():  # runs however `shopduck` exits
    # VmHWM: this process's own peak (ru_maxrss would include the parent's size at fork)
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
    print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": peak_kb / 1024}))

from pipelines.cli import run
run()  # what the `shopduck` console script runs
"""


class Failed(RuntimeError):
    """A shopduck command failed; the message is what it said."""


def shopduck(cwd: Path, env: dict[str, str], *args: str) -> dict:
    """Run a `shopduck` command (`load ...`, `replay ...`) in a child process: its wall time
    (process start included) and the peak memory of the child with every process it starts
    (mapping workers included)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        env={**clean_env(), **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(child.pid) as memory:
        stdout, stderr = child.communicate()
    wall = time.perf_counter() - started
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        said = [line for line in stderr.splitlines() if line.startswith("shopduck: ")]
        raise Failed(said[0].removeprefix("shopduck: ") if said else stderr[-300:])
    result = json.loads(lines[-1])
    return {
        **result,
        "wall": wall,
        "tree_mb": max(memory.peak_mb, result["rss_mb"]),
        "at_peak_mb": {kind: round(mb) for kind, mb in memory.at_peak.items()},
    }


def shopduck_load(warehouse: Path, env: dict[str, str], *args: str) -> dict:
    """`shopduck load` into a DuckDB file (see `shopduck`)."""
    return shopduck(warehouse.parent, env, "load", "--warehouse", str(warehouse), *args)


class TreeMemory:
    """Samples the memory of a process and its descendants every 50 ms: the peak of the sum of
    their proportional set sizes (PSS, so pages shared after a fork count once)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self.at_peak: dict[str, float] = {}  # MB by kind of process, at the peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            tree = _tree(self.pid)
            sizes = {pid: _pss_kb(pid) / 1024 for pid in tree}
            if sum(sizes.values()) > self.peak_mb:
                self.peak_mb = sum(sizes.values())
                self.at_peak = {}
                for pid, mb in sizes.items():
                    kind = _kind(pid, tree)
                    self.at_peak[kind] = self.at_peak.get(kind, 0.0) + mb


def _kind(pid: int, tree: dict[int, int]) -> str:
    """What a process of a load's tree is: the loader (the root), the mapping fork server, a
    mapping worker (forked by the server, so with the server's command line), or another
    helper (multiprocessing's resource tracker)."""
    if tree[pid] not in tree:
        return "loader"
    if _is_fork_server(tree[pid]):
        return "mapping workers"
    return "fork server" if _is_fork_server(pid) else "other"


def _is_fork_server(pid: int) -> bool:
    try:
        return b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _tree(root: int) -> dict[int, int]:
    """The process `root` and its descendants, each with its parent."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root: parents.get(root, 0)}, [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update((pid, parents[pid]) for pid in frontier)
    return tree


def _pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def compile_bytecode() -> None:
    """Compile the bytecode of every installed package and of shopduck's own, as a normal
    installation has it. This machine sets PYTHONDONTWRITEBYTECODE=1 and uv does not compile
    by default, so otherwise every fresh process compiles some 1,300 modules from source,
    which added about 3 s to every command's start (measured 2026-11-26: a no-change run of
    the five platforms, 4.5 s without bytecode, 1.9 s with it)."""
    paths = {sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")}
    paths |= {str(ROOT / package) for package in ("pipelines", "transforms", "platforms")}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *sorted(paths)], check=True
    )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}


def fresh_dir(base: Path, name: str) -> Path:
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- the measurements --------------------------------------------------------------------------
def backfill(sim: SimulatorProcess, work: Path, orders: int, repeat: int) -> dict:
    """Full loads of one shop into fresh DuckDB warehouses, then `shopduck replay` of each
    (where the command exists): orders/s and the peak memory of the process tree."""
    loads, replays, warehouses = [], [], []
    for attempt in range(repeat):
        warehouse = fresh_dir(work, f"backfill-{sim.platform}-{attempt}") / "w.duckdb"
        loads.append(shopduck_load(warehouse, sim.env()))
        warehouses.append(warehouse)
    failed = None
    for warehouse in warehouses:
        try:
            replays.append(shopduck(warehouse.parent, {}, "replay", "--warehouse", str(warehouse)))
        except Failed as error:
            failed = str(error)
            step(f"replay failed: {failed}")
            break
    return {
        "seconds": median([r["wall"] for r in loads]),
        "orders_per_s": orders / median([r["wall"] for r in loads]),
        "tree_mb": median([r["tree_mb"] for r in loads]),
        "at_peak_mb": [r["at_peak_mb"] for r in loads],
        "replay_orders_per_s": orders / median([r["wall"] for r in replays]) if replays else None,
        "replay_tree_mb": median([r["tree_mb"] for r in replays]) if replays else None,
        "replay_failed": failed,
    }


def rest_api_baseline(sim: SimulatorProcess, work: Path, orders: int, repeat: int) -> float:
    """What a user would otherwise write: dlt's rest_api source, dicts through the default
    normalizer into DuckDB, over the first `orders` orders of the same Haravan simulator, into
    a fresh DuckDB file each time. Returns orders per second (median of `repeat` runs)."""
    # without dlt's warnings about the columns its inference could not type (dozens of lines)
    level = os.environ.get("RUNTIME__LOG_LEVEL")
    os.environ["RUNTIME__LOG_LEVEL"] = "ERROR"
    try:
        return median([_rest_api_run(sim, work, orders, attempt) for attempt in range(repeat)])
    finally:
        if level is None:
            del os.environ["RUNTIME__LOG_LEVEL"]
        else:
            os.environ["RUNTIME__LOG_LEVEL"] = level


def _rest_api_run(sim: SimulatorProcess, work: Path, orders: int, attempt: int) -> float:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {"base_url": sim.base_url, "auth": {"type": "bearer", "token": "sim-token"}},
            "resources": [
                {
                    "name": "orders",
                    "endpoint": {
                        "path": "com/orders.json",
                        "params": {"status": "any", "limit": 250},
                        "data_selector": "orders",
                        "paginator": {
                            "type": "page_number",
                            "base_page": 1,
                            "page_param": "page",
                            "total_path": None,
                            "maximum_page": math.ceil(orders / 250) + 1,
                        },
                    },
                }
            ],
        }
    )
    directory = fresh_dir(work, f"baseline-{attempt}")
    pipeline = dlt.pipeline(
        "baseline",
        destination=dlt.destinations.duckdb(str(directory / "b.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(directory / "dlt"),
    )
    started = time.perf_counter()
    pipeline.run(source)
    seconds = time.perf_counter() - started
    with duckdb.connect(str(directory / "b.duckdb"), read_only=True) as con:
        loaded = con.execute("select count(*) from raw.orders").fetchone()[0]
    return loaded / seconds


CEILING_SQL = [
    "create table orders as select unnest(orders, recursive := true) from read_json('{pages}', maximum_object_size=100000000)",
    "create table raw as select unnest(orders) as o from read_json('{pages}', maximum_object_size=100000000)",
    "create table line_items as select o.id as order_id, unnest(o.line_items, recursive := true) from raw",
    "create table refunds as select o.id as order_id, unnest(o.refunds) as r from raw",
    "create table refund_lines as select r.id as refund_id, unnest(r.refund_line_items, recursive := true) from refunds",
    "create table transactions as select o.id as order_id, unnest(o.transactions, recursive := true) from raw",
    "create table tax_lines as select o.id as order_id, unnest(o.tax_lines, recursive := true) from raw",
    "create table discounts as select o.id as order_id, unnest(o.discount_codes, recursive := true) from raw",
    "create table shipping_lines as select o.id as order_id, unnest(o.shipping_lines, recursive := true) from raw",
    "create table fulfillments as select o.id as order_id, unnest(o.fulfillments, recursive := true) from raw",
]


def read_json_ceiling(sim: SimulatorProcess, work: Path, orders: int, repeat: int) -> float:
    """DuckDB's read_json flattening the same Haravan pages from local files: orders/s."""
    directory = fresh_dir(work, "ceiling")
    client = httpx.Client(headers={"Authorization": "Bearer sim-token"}, timeout=60)
    since, page = 0, 0
    while True:
        body = client.get(
            f"{sim.base_url}/com/orders.json",
            params={"status": "any", "limit": 250, "since_id": since},
        ).content
        records = json.loads(body)["orders"]
        if not records:
            break
        (directory / f"page-{page:05d}.json").write_bytes(body)
        since, page = records[-1]["id"], page + 1
    timings = []
    for _ in range(repeat):
        database = directory / "ceiling.duckdb"
        database.unlink(missing_ok=True)
        started = time.perf_counter()
        with duckdb.connect(str(database)) as con:
            for statement in CEILING_SQL:
                con.execute(statement.format(pages=directory / "page-*.json"))
        timings.append(time.perf_counter() - started)
    return orders / median(timings)


def no_change_run(sims: SimulatorProcess, work: Path, repeat: int) -> dict:
    """A full load of the five platforms together, then `shopduck load` with nothing changed:
    median wall seconds and the requests each shop received in the last no-change run."""
    warehouse = fresh_dir(work, "incremental") / "w.duckdb"
    env = sims.env()
    full = shopduck_load(warehouse, env)
    walls, requests = [], {}
    for _ in range(repeat):
        before = [s["requests"] for s in sims.stats()]
        walls.append(shopduck_load(warehouse, env)["wall"])
        after = [s["requests"] for s in sims.stats()]
        requests = {p: a - b for p, a, b in zip(sims.platforms, after, before, strict=True)}
    return {"seconds": median(walls), "requests": requests, "full_seconds": full["wall"]}


def many_shops(work: Path, count: int, orders: int) -> dict:
    """`count` shops (the five platforms in turn), each behind its own simulator at its
    documented rate limit, backfilled by one `shopduck load`, then loaded again with nothing new.

    Efficiency: aggregate orders/s (all shops' orders over the load's wall time, process start
    included) over the bound, the sum of the shops' rate-limit bounds over the run. A shop
    contributes its bound (`shop_bound`) only while it has pages left, so the most orders/s
    any client can reach is all the orders over the slowest shop's `forced_seconds`; the
    efficiency is therefore also that time over the wall time."""
    platforms = [PLATFORMS[i % len(PLATFORMS)] for i in range(count)]
    sims = SimulatorProcess(platforms, orders, rate_limit=True)
    try:
        warehouse = fresh_dir(work, f"many-{count}") / "w.duckdb"
        began = time.time()
        run = shopduck_load(warehouse, sims.env())
        ended = time.time()
        stats, times = sims.stats(), sims.times()
        nothing_new = shopduck_load(warehouse, sims.env())
        after = sims.stats()
    finally:
        sims.stop()
    total = count * orders
    slowest = max(forced_seconds(p, orders) for p in platforms)
    return {
        "shops": count,
        "seconds": run["wall"],
        "orders_per_s": total / run["wall"],
        "bound_orders_per_s": total / slowest,
        "slowest_forced_seconds": slowest,
        "sum_of_steady_bounds": sum(shop_bound(p) for p in platforms),
        "efficiency": slowest / run["wall"],
        "requests": sum(s["requests"] for s in stats),
        "least_requests": sum(math.ceil(orders / PAGE[p]) for p in platforms),
        "throttled": sum(s["throttled"] for s in stats),
        "tree_mb": run["tree_mb"],
        "at_peak_mb": run["at_peak_mb"],
        # where the wall time went: until the first request (process start, imports, set-up),
        # first to last request (fetching), after the last request (mapping and loading the rest)
        "until_first_request": min(t[0] for t in times) - began,
        "fetching": max(t[1] for t in times) - min(t[0] for t in times),
        "after_last_request": ended - max(t[1] for t in times),
        "nothing_new_seconds": nothing_new["wall"],
        "nothing_new_requests": sum(
            a["requests"] - s["requests"] for a, s in zip(after, stats, strict=True)
        ),
        "nothing_new_throttled": sum(
            a["throttled"] - s["throttled"] for a, s in zip(after, stats, strict=True)
        ),
    }


def postgres_vs_duckdb(work: Path, orders: int, share: float, repeat: int) -> dict:
    """One Haravan shop of `orders` orders, into fresh DuckDB files and fresh Postgres
    databases: backfills (median of `repeat`, each into a fresh warehouse), then, on the last
    warehouse, an incremental load after `share` of the orders changed, then replays (median
    of `repeat`)."""
    import psycopg2

    sim = SimulatorProcess("haravan", orders)
    database = "shopduck_bench"
    admin = psycopg2.connect(f"{POSTGRES}/postgres")
    admin.autocommit = True

    def fresh(destination: str, attempt: int) -> tuple[Path, dict[str, str], tuple[str, ...]]:
        directory = fresh_dir(work, f"pg-{destination}-{attempt}")
        if destination == "duckdb":
            return directory, sim.env(), ("--warehouse", str(directory / "w.duckdb"))
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {database}")
            cur.execute(f"create database {database}")
        env = {
            **sim.env(),
            "DESTINATION__POSTGRES__CREDENTIALS": f"{POSTGRES}/{database}",
            "SHOPDUCK__PIPELINES_DIR": str(directory / "pipelines"),
        }
        return directory, env, ("--destination", "postgres")

    results = {}
    try:
        for destination in ("duckdb", "postgres"):
            fulls = []
            for attempt in range(repeat):
                directory, env, args = fresh(destination, attempt)
                fulls.append(shopduck(directory, env, "load", *args))
            sim.touch(share)
            changed = round(share * orders)
            incremental = shopduck(directory, env, "load", *args)
            replays, failed = [], None
            for _ in range(repeat):
                try:
                    replays.append(shopduck(directory, env, "replay", *args)["wall"])
                except Failed as error:
                    failed = str(error)
                    break
            full, replay = median([r["wall"] for r in fulls]), median(replays) if replays else None
            results[destination] = {
                "backfill_seconds": full,
                "backfill_orders_per_s": orders / full,
                "incremental_seconds": incremental["wall"],
                "incremental_orders_per_s": changed / incremental["wall"],
                "replay_seconds": replay,
                "replay_orders_per_s": orders / replay if replay else None,
                "replay_failed": failed,
                "tree_mb": median([r["tree_mb"] for r in fulls]),
            }
    finally:
        sim.stop()
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {database}")
        admin.close()
    return results


REPORT_DATA_SQL = """
create schema commerce;
create table commerce.orders as
select 'bench' as platform, 'shop-' || (i % 5) as shop, i::varchar as order_id,
    i::varchar as order_number, null::varchar as name,
    timestamptz '2024-01-01' + to_seconds(i % 31536000) as created_at,
    timestamptz '2024-01-01' + to_seconds(i % 31536000) as updated_at,
    null::timestamptz as processed_at,
    case when i % 50 = 0 then timestamptz '2024-01-01' + to_seconds(i % 31536000 + 3600) end as cancelled_at,
    null::timestamptz as closed_at, null::varchar as cancel_reason,
    (['USD', 'EUR', 'VND'])[1 + i % 3] as currency, 'paid' as financial_status,
    null::varchar as fulfillment_status, null::varchar as order_status, i % 97 = 0 as is_test,
    false as taxes_included, 100.00::decimal(18,4) as subtotal_price, 5.00::decimal(18,4) as total_discounts,
    4.95::decimal(18,4) as total_shipping, 6.00::decimal(18,4) as total_tax, null::decimal(18,4) as total_surcharge,
    105.95::decimal(18,4) as total_price, (i % 4000)::varchar as customer_id, null::varchar as email,
    'web' as source_name, null::varchar as parent_order_id, null::varchar as return_source_order_id,
    i % 50 = 0 as is_cancelled, false as is_deleted
from range({orders}) as t(i);
create table commerce.shops as
select 'bench' as platform, 'shop-' || i as shop, 'UTC' as timezone from range(5) as t(i);
create table commerce.order_lines as
select o.platform, o.shop, o.order_id, o.order_id || '-' || n as line_id,
    ((o.order_id::bigint * 7 + n) % 500)::varchar as product_id, null::varchar as variant_id,
    null::varchar as sku, 'Product ' || ((o.order_id::bigint * 7 + n) % 500) as title,
    null::varchar as variant_title, 1 + n % 2 as quantity, 35.00::decimal(18,4) as unit_price,
    0::decimal(18,4) as total_discount, null::decimal(18,4) as tax_amount, true as taxable,
    true as requires_shipping, false as is_gift_card
from commerce.orders as o, range(3) as r(n);
create table commerce.refunds as
select platform, shop, order_id || '-r' as refund_id, order_id,
    created_at + interval 5 day as created_at, null::varchar as note, true as restock,
    35.00::decimal(18,4) as amount, false as is_derived
from commerce.orders where order_id::bigint % 10 = 0;
create table commerce.refund_lines as
select platform, shop, refund_id, refund_id || '-1' as refund_line_id, order_id,
    order_id || '-0' as line_id, 1 as quantity, 35.00::decimal(18,4) as subtotal
from commerce.refunds;
"""


def reporting_query(work: Path, orders: int, repeat: int) -> tuple[float, float]:
    """Seconds to build the reporting models over a generated warehouse (what every load that
    changed data pays) and median seconds for `select * from reporting.daily_sales`."""
    from pipelines.models import apply_models

    database = fresh_dir(work, "reporting") / "r.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(REPORT_DATA_SQL.format(orders=orders))
        started = time.perf_counter()
        apply_models(con)
        build = time.perf_counter() - started
    timings = []
    with duckdb.connect(str(database), read_only=True) as con:
        for _ in range(repeat):
            started = time.perf_counter()
            con.execute("select * from reporting.daily_sales").fetchall()
            timings.append(time.perf_counter() - started)
    return build, median(timings)


# --- the table -------------------------------------------------------------------------------
def table(rows: list[tuple[str, str, str, bool | None]]) -> str:
    header = ("figure", "measured", "target", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(3)]
    out = [
        " | ".join(h.ljust(w) for h, w in zip(header, [*widths, 2], strict=False)),
        "-|-".join("-" * w for w in [*widths, 2]),
    ]
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "MISS")
        out.append(
            " | ".join(
                str(v).ljust(w)
                for v, w in zip((name, value, target, mark), [*widths, 2], strict=True)
            )
        )
    return "\n".join(out)


def step(what: str) -> None:
    print(f"... {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


EFFICIENCY_TARGET = {20: 0.90, 50: 0.75}  # issue 16, at N shops
MEMORY_TARGET = {1: 400, 50: 600}  # MB, the whole process tree


def rows_of(args: argparse.Namespace, r: dict) -> list[tuple[str, str, str, bool | None]]:
    """The table's rows: each figure, its target and whether it is met."""
    rows: list[tuple[str, str, str, bool | None]] = []
    h = r["haravan"]
    n = f"{args.orders:,}"
    rows.append(
        (f"backfill, 1 Haravan shop ({n} orders), orders/s", f"{h['orders_per_s']:,.0f}", "", None)
    )
    rows.append(
        (
            f"rest_api baseline (same simulator, dicts, {args.baseline_orders:,}), orders/s",
            f"{r['baseline']:,.0f}",
            "",
            None,
        )
    )
    ratio = h["orders_per_s"] / r["baseline"]
    rows.append(("backfill / rest_api baseline", f"{ratio:.1f}x", ">= 10x", ratio >= 10))
    rows.append(
        ("DuckDB read_json ceiling (same pages), orders/s", f"{r['ceiling']:,.0f}", "", None)
    )
    ratio = h["orders_per_s"] / r["ceiling"]
    rows.append(("backfill / read_json ceiling", f"{ratio:.2f}", ">= 0.6", ratio >= 0.6))
    replay = h["replay_orders_per_s"]
    rows.append(
        (
            f"replay ({n} orders) / backfill, orders/s",
            f"FAILED: {h['replay_failed'][:70]}"
            if replay is None
            else f"{replay:,.0f} / {h['orders_per_s']:,.0f}",
            ">= backfill",
            replay is not None and replay >= h["orders_per_s"],
        )
    )
    rows.append(
        (
            f"peak memory, N = 1 ({n} orders)",
            f"{h['tree_mb']:.0f} MB",
            f"< {MEMORY_TARGET[1]} MB",
            h["tree_mb"] < MEMORY_TARGET[1],
        )
    )
    for m in r["many"]:
        target = EFFICIENCY_TARGET.get(m["shops"])
        rows.append(
            (
                f"N = {m['shops']} shops x {args.shop_orders:,}: orders/s / bound",
                f"{m['orders_per_s']:,.0f} / {m['bound_orders_per_s']:,.0f} = {m['efficiency']:.1%}",
                f">= {target:.0%}" if target else "",
                None if target is None else m["efficiency"] >= target,
            )
        )
    for m in r["many"]:
        target = MEMORY_TARGET.get(m["shops"])
        rows.append(
            (
                f"peak memory, N = {m['shops']} shops",
                f"{m['tree_mb']:.0f} MB",
                f"< {target} MB" if target else "",
                None if target is None else m["tree_mb"] < target,
            )
        )
    throttled = sum(m["throttled"] for m in r["many"])
    rows.append(
        ("429s received, all N-shop backfills", str(throttled), "a handful (<= 5)", throttled <= 5)
    )
    nc = r["no_change"]
    rows.append(
        (
            f"no-change run, five platforms ({args.five_orders or args.orders:,} orders each), s",
            f"{nc['seconds']:.2f}",
            "< 5 s incl. start",
            nc["seconds"] < 5,
        )
    )
    rows.append(("no-change run, five platforms, requests", json.dumps(nc["requests"]), "", None))
    if r["many"]:
        m = r["many"][-1]
        target = 15 if m["shops"] == 50 else None
        rows.append(
            (
                f"no-change run, N = {m['shops']} shops (rate-limited), s",
                f"{m['nothing_new_seconds']:.2f} ({m['nothing_new_requests']} requests)",
                "< 15 s" if target else "",
                None if target is None else m["nothing_new_seconds"] < target,
            )
        )
    pg = r["postgres"]
    if pg:
        d, p = pg["duckdb"], pg["postgres"]
        changed = round(args.pg_share * args.pg_orders)
        for what, label in (
            ("backfill", f"{args.pg_orders:,} Haravan orders"),
            ("incremental", f"{changed:,} of them changed"),
        ):
            rows.append(
                (
                    f"{what} ({label}), DuckDB / Postgres",
                    f"{d[what + '_seconds']:.1f} / {p[what + '_seconds']:.1f} s = "
                    f"{d[what + '_orders_per_s']:,.0f} / {p[what + '_orders_per_s']:,.0f} orders/s",
                    "",
                    None,
                )
            )
    if pg:
        for name, x in (("DuckDB", d), ("Postgres", p)):
            replay = x["replay_orders_per_s"]
            rows.append(
                (
                    f"replay ({args.pg_orders:,} orders, {name}) / backfill, orders/s",
                    f"FAILED: {x['replay_failed'][:70]}"
                    if replay is None
                    else f"{replay:,.0f} / {x['backfill_orders_per_s']:,.0f}",
                    ">= backfill",
                    replay is not None and replay >= x["backfill_orders_per_s"],
                )
            )
    build, query = r["reporting"]
    rows.append(
        (f"reporting models built over {args.report_orders:,} orders", f"{build:.2f} s", "", None)
    )
    rows.append(
        (
            f"reporting.daily_sales over {args.report_orders:,} orders",
            f"{query:.3f} s",
            "< 1 s",
            query < 1,
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=50_000, help="the single-shop backfill")
    parser.add_argument(
        "--five-orders", type=int, help="orders a platform in the no-change run (default --orders)"
    )
    parser.add_argument("--baseline-orders", type=int, default=5_000)
    parser.add_argument("--shops", type=int, nargs="*", default=[5, 20, 50], metavar="N")
    parser.add_argument("--shop-orders", type=int, default=2_000, help="orders a shop, N shops")
    parser.add_argument("--pg-orders", type=int, default=20_000, help="0: no Postgres figures")
    parser.add_argument("--pg-share", type=float, default=0.02, help="share changed, incremental")
    parser.add_argument("--report-orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shopduck-bench-"))
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    r: dict = {}
    step("compiling bytecode (as an installation has it)")
    compile_bytecode()

    step(f"one Haravan shop, {args.orders:,} orders: backfill and replay x{args.repeat}")
    sim = SimulatorProcess("haravan", args.orders)
    try:
        r["haravan"] = backfill(sim, work, args.orders, args.repeat)
        step("read_json ceiling and rest_api baseline on the same simulator")
        r["ceiling"] = read_json_ceiling(sim, work, args.orders, args.repeat)
        r["baseline"] = rest_api_baseline(sim, work, args.baseline_orders, args.repeat)
    finally:
        sim.stop()
    five = args.five_orders or args.orders
    step(f"five platforms ({five:,} orders each): full load, then no-change runs x{args.repeat}")
    sims = SimulatorProcess(list(PLATFORMS), five)
    try:
        r["no_change"] = no_change_run(sims, work, args.repeat)
    finally:
        sims.stop()
    r["many"] = []
    for count in args.shops:
        step(f"{count} rate-limited shops x {args.shop_orders:,} orders, then nothing new")
        r["many"].append(many_shops(work, count, args.shop_orders))
    r["postgres"] = None
    if args.pg_orders:
        step(
            f"Postgres vs DuckDB, {args.pg_orders:,} Haravan orders and {args.pg_share:.0%} changed"
        )
        r["postgres"] = postgres_vs_duckdb(work, args.pg_orders, args.pg_share, args.repeat)
    step(f"reporting over {args.report_orders:,} generated orders")
    r["reporting"] = reporting_query(work, args.report_orders, args.repeat)
    minutes = (time.perf_counter() - started) / 60
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, **r}, indent=2)
        )
    print(
        f"\nshopduck benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, {machine.system()} "
        f"{machine.machine()}, {os.cpu_count()} cores (shared with other work), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {machine.python_version()}, median of {args.repeat}, {minutes:.1f} min; "
        f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"(other work on the machine)\n"
    )
    print(table(rows_of(args, r)))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
