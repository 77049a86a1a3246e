"""shopduck benchmark: measures what users feel and prints every figure beside its target.

    uv run python benchmarks/run.py                  # the full run (50,000 orders a platform)
    uv run python benchmarks/run.py --orders 5000    # a quick look

Simulators run in their own processes (unthrottled unless a figure needs the rate limit), so
the loader is measured, not the fake server. Each load runs in a fresh child process; its wall
time includes process start, and its peak memory is that of the whole process tree (the
mapping workers included). Timings are medians of `--repeat` runs; ratios are measured side by
side in the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform as machine
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulators.registry import SIMULATORS, start_simulator  # noqa: E402

PLATFORMS = ("flickrocket", "haravan", "lunasoft", "merchantpro", "spiffy")


# --- simulators in their own processes ---------------------------------------------------------
def _serve(platform: str, orders: int, rate_limit: bool, ready: multiprocessing.Queue) -> None:
    simulator = start_simulator(platform, orders=orders, rate_limit=rate_limit, retry_after="2.0")
    simulator.warm()
    ready.put(simulator.base_url)
    while True:
        time.sleep(3600)


class SimulatorProcess:
    """A platform simulator served by a child process."""

    def __init__(self, platform: str, orders: int, rate_limit: bool = False) -> None:
        self.platform = platform
        queue: multiprocessing.Queue = multiprocessing.Queue()
        self.process = multiprocessing.Process(
            target=_serve, args=(platform, orders, rate_limit, queue), daemon=True
        )
        self.process.start()
        self.base_url: str = queue.get(timeout=600)

    def stats(self) -> dict:
        return httpx.get(f"{self.base_url}/_simulator/stats").json()

    def env(self, shop: str | None = None) -> dict[str, str]:
        """The environment variables that configure a shop reaching this simulator."""
        prefix = f"SOURCES__{self.platform.upper()}__"
        spec = SIMULATORS[self.platform]
        values = {
            "BASE_URL": self.base_url,
            "SHOP": shop or f"bench-{self.platform}",
            **{k.upper(): v for k, v in {**spec.credentials, **spec.options}.items()},
        }
        return {prefix + key: value for key, value in values.items()}

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


# --- one load in a fresh process ---------------------------------------------------------------
CHILD = """
import json, re, sys, time
started = time.perf_counter()
from pipelines.cli import main
code = main(sys.argv[1:])
# VmHWM: this process's own peak (ru_maxrss would include the parent's size at fork)
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"code": code, "seconds": time.perf_counter() - started, "rss_mb": peak_kb / 1024}))
"""


def shopduck_load(warehouse: Path, env: dict[str, str], *args: str) -> dict:
    """Run `shopduck load` in a child process: its wall time (process start included) and the
    peak memory of the child with every process it starts (mapping workers included)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "load", "--warehouse", str(warehouse), *args],
        env={**clean_env(), **env, "PYTHONPATH": str(ROOT)},
        cwd=warehouse.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(child.pid) as memory:
        stdout, stderr = child.communicate()
    wall = time.perf_counter() - started
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines or json.loads(lines[-1])["code"] != 0:
        raise SystemExit(f"shopduck load failed:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    result = json.loads(lines[-1])
    return {**result, "wall": wall, "tree_mb": max(memory.peak_mb, result["rss_mb"])}


class TreeMemory:
    """Samples the memory of a process and its descendants every 50 ms: the peak of the sum of
    their proportional set sizes (PSS, so pages shared after a fork count once)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
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
            total_kb = sum(_pss_kb(pid) for pid in _tree(self.pid))
            self.peak_mb = max(self.peak_mb, total_kb / 1024)


def _tree(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


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
    """Full loads of one platform into fresh warehouses: orders/s and peak memory."""
    runs = []
    for attempt in range(repeat):
        warehouse = fresh_dir(work, f"backfill-{sim.platform}-{attempt}") / "w.duckdb"
        runs.append(shopduck_load(warehouse, sim.env()))
    seconds = median([r["wall"] for r in runs])
    return {
        "seconds": seconds,
        "orders_per_s": orders / seconds,
        "rss_mb": max(r["tree_mb"] for r in runs),
    }


def rest_api_baseline(sim: SimulatorProcess, work: Path, orders: int) -> float:
    """What a user would otherwise write: dlt's rest_api source, dicts through the default
    normalizer into DuckDB. Returns orders per second."""
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
                        },
                    },
                }
            ],
        }
    )
    directory = fresh_dir(work, "baseline")
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
    assert loaded == orders, (loaded, orders)
    return orders / seconds


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


def rate_limited(work: Path, orders: int) -> dict:
    """A Haravan backfill against the leaky bucket (80 calls, 4 a second)."""
    sim = SimulatorProcess("haravan", orders, rate_limit=True)
    try:
        warehouse = fresh_dir(work, "rate") / "w.duckdb"
        run = shopduck_load(warehouse, sim.env())
        stats = sim.stats()
    finally:
        sim.stop()
    requests = stats["requests"]
    theoretical = max(requests - 80, 0) / 4.0  # seconds the bucket forces, at the least
    extract_floor = orders / run["seconds"]
    return {
        "orders_per_s": orders / run["wall"],
        "theoretical": orders / max(theoretical, 1e-9),
        "ratio": theoretical / run["wall"] if theoretical else 1.0,
        "throttled": stats["throttled"],
        "requests": requests,
        "seconds": run["wall"],
        "unthrottled_orders_per_s": extract_floor,
    }


def no_change_run(sims: dict[str, SimulatorProcess], work: Path, repeat: int) -> dict:
    """After a full load of all five platforms, `shopduck load` with nothing changed."""
    warehouse = fresh_dir(work, "incremental") / "w.duckdb"
    env = {k: v for sim in sims.values() for k, v in sim.env().items()}
    full = shopduck_load(warehouse, env)
    walls, requests = [], {}
    for _ in range(repeat):
        before = {p: sim.stats()["requests"] for p, sim in sims.items()}
        walls.append(shopduck_load(warehouse, env)["wall"])
        requests = {p: sim.stats()["requests"] - before[p] for p, sim in sims.items()}
    return {"seconds": median(walls), "requests": requests, "concurrent_full": full["wall"]}


# --- many shops at their rate limits -----------------------------------------------------------
# Each shop's documented limit: Haravan's bucket (80 calls, leaking 4 a second); the others 2
# requests a second (the simulators' fixed window, announced in X-RateLimit-* headers).
BURST = {"haravan": 80}
PER_SECOND = {"haravan": 4.0}


def _serve_shops(platforms: list[str], orders: int, ready: multiprocessing.Queue) -> None:
    sims = [
        start_simulator(p, orders=orders, seed=i, rate_limit=True, retry_after="2.0")
        for i, p in enumerate(platforms)
    ]
    for simulator in sims:
        simulator.warm()
    ready.put([simulator.base_url for simulator in sims])
    while True:
        time.sleep(3600)


def many_shops(work: Path, count: int, orders: int) -> dict:
    """`count` shops (the five platforms in turn), each behind its own rate-limited simulator
    (served by one child process), backfilled by one `shopduck load`, then loaded again with
    nothing new. A shop's limit forces (requests - burst) / rate seconds for the requests it
    made; no client can finish before the slowest shop's, so `efficiency` is that over the
    wall time (process start, mapping and loading included)."""
    platforms = [PLATFORMS[i % len(PLATFORMS)] for i in range(count)]
    queue: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=_serve_shops, args=(platforms, orders, queue), daemon=True
    )
    server.start()
    try:
        urls = queue.get(timeout=1800)
        env: dict[str, str] = {}
        for number, (platform, url) in enumerate(zip(platforms, urls, strict=True)):
            spec = SIMULATORS[platform]
            prefix = f"SOURCES__{platform.upper()}__SHOPS__S{number:03}__"
            values = {"BASE_URL": url, **{k.upper(): v for k, v in spec.credentials.items()}}
            values.update({k.upper(): v for k, v in spec.options.items()})
            env.update({prefix + key: value for key, value in values.items()})
        warehouse = fresh_dir(work, f"many-{count}") / "w.duckdb"
        run = shopduck_load(warehouse, env)
        stats = [httpx.get(f"{url}/_simulator/stats").json() for url in urls]
        nothing_new = shopduck_load(warehouse, env)
    finally:
        server.kill()
        server.join()
    forced = max(
        (served["requests"] - BURST.get(platform, 2)) / PER_SECOND.get(platform, 2.0)
        for platform, served in zip(platforms, stats, strict=True)
    )
    return {
        "shops": count,
        "seconds": run["wall"],
        "orders_per_s": count * orders / run["wall"],
        "slowest_forced_seconds": forced,
        "efficiency": forced / run["wall"],
        "throttled": sum(served["throttled"] for served in stats),
        "tree_mb": run["tree_mb"],
        "nothing_new_seconds": nothing_new["wall"],
        "nothing_new_tree_mb": nothing_new["tree_mb"],
    }


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
    print(f"... {what}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=50_000, help="orders per platform")
    parser.add_argument("--baseline-orders", type=int, default=5_000)
    parser.add_argument("--rate-orders", type=int, default=40_000)
    parser.add_argument("--report-orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--many-shops",
        type=int,
        nargs="+",
        metavar="N",
        help="only: N shops at their rate limits, 2,000 orders each (e.g. 5 20 50)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shopduck-bench-"))
    if args.many_shops:
        for count in args.many_shops:
            step(f"{count} rate-limited shops backfilled at once, then nothing new")
            print(json.dumps(many_shops(work, count, 2_000)), flush=True)
        return
    rows: list[tuple[str, str, str, bool | None]] = []

    step(f"starting five simulators with {args.orders:,} orders each")
    sims = {p: SimulatorProcess(p, args.orders) for p in PLATFORMS}
    try:
        step("backfills, one platform at a time")
        alone = {p: backfill(sim, work, args.orders, args.repeat) for p, sim in sims.items()}
        step("rest_api baseline and read_json ceiling (Haravan)")
        small = SimulatorProcess("haravan", args.baseline_orders)
        try:
            baseline = rest_api_baseline(small, work, args.baseline_orders)
        finally:
            small.stop()
        ceiling = read_json_ceiling(sims["haravan"], work, args.orders, args.repeat)
        step("memory at 10,000 orders")
        ten_k = SimulatorProcess("haravan", 10_000)
        try:
            rss_10k = backfill(ten_k, work, 10_000, 1)["rss_mb"]
        finally:
            ten_k.stop()
        step("no-change incremental run over all five platforms")
        incremental = no_change_run(sims, work, args.repeat)
    finally:
        for sim in sims.values():
            sim.stop()
    step(f"rate-limited backfill ({args.rate_orders:,} orders)")
    rate = rate_limited(work, args.rate_orders)
    step(f"reporting over {args.report_orders:,} generated orders")
    report_build, report_seconds = reporting_query(work, args.report_orders, args.repeat)

    haravan = alone["haravan"]["orders_per_s"]
    for p, result in alone.items():
        rows.append(
            (
                f"backfill {p} ({args.orders:,} orders), orders/s",
                f"{result['orders_per_s']:,.0f}",
                "",
                None,
            )
        )
    rows.append(("rest_api baseline (Haravan, dicts), orders/s", f"{baseline:,.0f}", "", None))
    rows.append(
        (
            "Haravan backfill / baseline",
            f"{haravan / baseline:.1f}x",
            ">= 10x",
            haravan >= 10 * baseline,
        )
    )
    rows.append(("DuckDB read_json ceiling (same pages), orders/s", f"{ceiling:,.0f}", "", None))
    rows.append(
        (
            "Haravan backfill / ceiling",
            f"{haravan / ceiling:.2f}",
            ">= 0.5",
            haravan >= 0.5 * ceiling,
        )
    )
    rss_50k = alone["haravan"]["rss_mb"]
    rows.append(("peak memory, 10,000 orders", f"{rss_10k:.0f} MB", "< 400 MB", rss_10k < 400))
    rows.append(
        (
            f"peak memory, {args.orders:,} orders",
            f"{rss_50k:.0f} MB",
            "< 400 MB, flat",
            rss_50k < 400 and rss_50k < 1.5 * rss_10k,
        )
    )
    rows.append(
        (
            "rate-limited backfill / theoretical max",
            f"{rate['ratio']:.0%}",
            ">= 90%",
            rate["ratio"] >= 0.9,
        )
    )
    rows.append(
        (
            "429s received under the rate limit",
            str(rate["throttled"]),
            "a handful (<= 5)",
            rate["throttled"] <= 5,
        )
    )
    fixed = {
        p: n
        for p, n in incremental["requests"].items()
        if p in ("flickrocket", "haravan", "spiffy")
    }
    rows.append(
        (
            "no-change load, requests per shop (updated filter)",
            json.dumps(fixed),
            "<= 1 each",
            all(n <= 1 for n in fixed.values()),
        )
    )
    others = {p: n for p, n in incremental["requests"].items() if p not in fixed}
    rows.append(("no-change load, requests (creation windows)", json.dumps(others), "", None))
    rows.append(
        (
            "no-change load of five platforms, seconds",
            f"{incremental['seconds']:.2f}",
            "< 5 s incl. start",
            incremental["seconds"] < 5,
        )
    )
    slowest = max(r["seconds"] for r in alone.values())
    total = sum(r["seconds"] for r in alone.values())
    concurrent = incremental["concurrent_full"]
    rows.append(
        ("five platforms: slowest alone / sum alone", f"{slowest:.1f} s / {total:.1f} s", "", None)
    )
    rows.append(
        (
            "five platforms loaded together",
            f"{concurrent:.1f} s",
            "closer to slowest than sum",
            abs(concurrent - slowest) < abs(total - concurrent),
        )
    )
    rows.append(
        (
            f"reporting models built over {args.report_orders:,} orders (after a load)",
            f"{report_build:.2f} s",
            "",
            None,
        )
    )
    rows.append(
        (
            f"reporting.daily_sales over {args.report_orders:,} orders",
            f"{report_seconds:.3f} s",
            "< 1 s",
            report_seconds < 1,
        )
    )
    print(
        f"\nshopduck benchmark, {time.strftime('%Y-%m-%d')}, {machine.system()} {machine.machine()}, "
        f"{os.cpu_count()} cores, Python {machine.python_version()}, median of {args.repeat}\n"
    )
    print(table(rows))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
