"""The `shopduck` command line: load, report, status, simulate and demo."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import psutil

from pipelines.errors import ShopduckError
from pipelines.lean import do_without_unused_libraries, use_two_malloc_arenas
from pipelines.settings import DEFAULT_WAREHOUSE, WAREHOUSE_ENV, use_dlt_settings

if TYPE_CHECKING:
    from pipelines.runner import ShopResult
    from pipelines.warehouse import Warehouse


def warehouse_path(value: str | None) -> Path:
    """--warehouse, else DESTINATION__DUCKDB__CREDENTIALS, else ./shopduck.duckdb."""
    chosen = value or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE
    chosen = chosen.removeprefix("duckdb:///")
    return Path(chosen).expanduser().resolve()


def target(args: argparse.Namespace) -> Warehouse:
    """The warehouse a command works on: `--destination` (else the `destination` setting) and,
    for DuckDB, `--warehouse`."""
    from pipelines.warehouse import configured_warehouse

    if args.destination == "postgres" and args.warehouse:
        raise ShopduckError(
            "--warehouse names a DuckDB file; a postgres warehouse is set by "
            "DESTINATION__POSTGRES__CREDENTIALS"
        )
    return configured_warehouse(args.destination, warehouse_path(args.warehouse))


def since_moment(value: str) -> datetime:
    """`--since`: an ISO date or time (UTC unless it has an offset)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time such as 2026-11-01 or 2026-11-01T12:00+07:00, "
            f"not {value!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_day(value: str) -> date:
    """`--since` / `--until` of a report: an ISO date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date such as 2026-11-01, not {value!r}"
        ) from None


def cmd_load(args: argparse.Namespace) -> int:
    from pipelines.config import configured_shops, lock_wait_seconds, retry_policy
    from pipelines.models import refresh_models
    from pipelines.reconcile import reconcile_shops
    from pipelines.runner import load_shops
    from pipelines.shop import RunOptions

    warehouse = target(args)
    shops = configured_shops(args.platform or (), args.shop or ())
    if args.shard is not None:
        shops = [shop for shop in shops if args.shard.holds(shop)]
    if not shops and args.shard is not None:
        print(f"shard {args.shard.index}/{args.shard.count}: no shop falls in it")
        return 0
    if not shops:
        print(
            "shopduck: no shop is configured (set SOURCES__<PLATFORM>__BASE_URL)", file=sys.stderr
        )
        return 2
    options = RunOptions(
        started_at=datetime.now(UTC),
        full_refresh=args.full_refresh,
        since=args.since,
        retry=retry_policy(),
    )
    with warehouse.writer_lock(lock_wait_seconds()):
        results = load_shops(shops, warehouse, options, progress=args.progress)
        reconciled = reconcile_shops(shops, warehouse, options) if args.reconcile else []
        if any(r.load_info for r in results) or any(i.changed for i in reconciled):
            refresh_models(warehouse)
    print_shops(results, "orders", verbose=args.verbose)
    for item in reconciled:
        if item.skipped:
            print(f"{item.shop.label}: reconcile skipped, another load holds it")
        elif item.error is None:
            print(f"{item.shop.label}: reconciled: {item.summary()}")
    failures = [(r.shop.label, r.error) for r in results if r.error is not None]
    failures += [(f"{i.shop.label} (reconcile)", i.error) for i in reconciled if i.error]
    return print_failures(failures, len(results) + len(reconciled))


def print_shops(results: list[ShopResult], what: str, *, verbose: bool = False) -> None:
    """One line per shop on stdout: what it loaded (`what`: "orders", "orders replayed"), or
    that another process holds it."""
    for result in results:
        if result.load_info and verbose:
            print(result.load_info)
        if result.skipped:
            print(f"{result.shop.label}: skipped, another load holds it")
        elif result.ok:
            stats = result.stats
            print(
                f"{result.shop.label}: {stats.orders} {what}, {stats.quarantined} quarantined, "
                f"{result.seconds:.1f}s"
            )


def print_failures(failures: list[tuple[str, str]], runs: int) -> int:
    """Each failure as one line on stderr, named by its shop, and a summary; the exit code."""
    for label, error in failures:
        named = error if error.startswith(f"{label.split(' ')[0]}:") else f"{label}: {error}"
        print(f"shopduck: {named}", file=sys.stderr)
    if failures:
        others = "; the others loaded" if len(failures) < runs else ""
        print(f"shopduck: {len(failures)} of {runs} shop runs failed{others}", file=sys.stderr)
        return 1
    return 0


def cmd_shops(args: argparse.Namespace) -> int:
    from pipelines.config import configured_shops, shard_of
    from pipelines.runner import pipeline_name

    shops = configured_shops()
    if not shops:
        print("no shop is configured (set SOURCES__<PLATFORM>__BASE_URL)")
        return 0
    rows = [("shop", "shard", "dlt pipeline")] + [
        (shop.label, f"{shard_of(shop, args.shards)}/{args.shards}", pipeline_name(shop))
        for shop in shops
    ]
    first, second = (max(len(row[column]) for row in rows) for column in (0, 1))
    for label, part, name in rows:
        print(f"{label:<{first}}  {part:<{second}}  {name}")
    return 0


def positive(value: str) -> int:
    """A whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return int(value)


def shard(value: str) -> object:
    """`--shard I/N`."""
    from pipelines.config import Shard

    try:
        return Shard.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.report import print_report

    if args.since and args.until and args.since > args.until:
        print(
            f"shopduck report: --since {args.since} is after --until {args.until}",
            file=sys.stderr,
        )
        return 2
    print_report(target(args), args.since, args.until)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from pipelines.config import configured_shops, lock_wait_seconds
    from pipelines.models import refresh_models
    from pipelines.replay import replay_shops, shops_to_replay
    from pipelines.shop import RunOptions

    warehouse = target(args)
    configured = configured_shops(args.platform or ())
    shops = shops_to_replay(warehouse, configured, args.platform or (), args.shop or ())
    with warehouse.writer_lock(lock_wait_seconds()):
        results = replay_shops(shops, warehouse, RunOptions(started_at=datetime.now(UTC)))
        if any(r.load_info for r in results):
            refresh_models(warehouse)
    print_shops(results, "orders replayed")
    failures = [(r.shop.label, r.error) for r in results if r.error is not None]
    return print_failures(failures, len(results))


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.status import print_status

    print_status(target(args))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from pipelines.errors import ShopduckError
    from simulators.registry import SIMULATORS, start_simulator

    if args.platform not in SIMULATORS:
        raise ShopduckError(f"no simulator for {args.platform!r}: one of {', '.join(SIMULATORS)}")
    simulator = start_simulator(args.platform, orders=args.orders, seed=args.seed, port=args.port)
    spec = SIMULATORS[args.platform]
    prefix = f"SOURCES__{args.platform.upper()}__"
    print(f"{args.platform} simulator with {args.orders} orders at {simulator.base_url}")
    print("Point shopduck at it with:")
    print(f"  export {prefix}BASE_URL={simulator.base_url}")
    for key, value in {**spec.credentials, **spec.options}.items():
        print(f"  export {prefix}{key.upper()}={value}")
    print("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        simulator.stop()
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    from pipelines.notebooks import render_html

    for page in render_html(Path(args.html), target(args)):
        print(page)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(warehouse_path(args.warehouse), args.orders)


def add_destination(command: argparse.ArgumentParser) -> None:
    """`--warehouse` and `--destination`, for every command that reads or writes a warehouse."""
    command.add_argument("--warehouse", help="the DuckDB file (default ./shopduck.duckdb)")
    command.add_argument(
        "--destination",
        choices=("duckdb", "postgres"),
        help="duckdb (default) or postgres (DESTINATION__POSTGRES__CREDENTIALS); "
        "default: `destination` in [shopduck] (SHOPDUCK__DESTINATION)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopduck", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="load all simulators into a warehouse and report")
    demo.add_argument("--warehouse")
    demo.add_argument("--orders", type=int, default=300, help="orders per simulated shop")
    demo.set_defaults(func=cmd_demo)

    load = commands.add_parser("load", help="incremental load of every configured shop")
    load.add_argument("--platform", action="append", help="only the shops of this platform")
    load.add_argument("--shop", action="append", help="only the shop with this label")
    add_destination(load)
    load.add_argument("--full-refresh", action="store_true", help="ignore stored cursors")
    load.add_argument(
        "--since",
        type=since_moment,
        help="also reread orders changed since this ISO date (on a new warehouse: load only those)",
    )
    load.add_argument(
        "--reconcile",
        action="store_true",
        help="compare with the source: fetch missing and stale orders, flag deleted ones",
    )
    load.add_argument("--progress", choices=("log", "tqdm", "none"), default="none")
    load.add_argument("--verbose", action="store_true", help="show dlt's own output too")
    load.add_argument(
        "--shard", type=shard, help="I/N: only the shops of shard I of N (see `shopduck shops`)"
    )
    load.set_defaults(func=cmd_load)

    report = commands.add_parser("report", help="revenue and refund summary")
    add_destination(report)
    report.add_argument("--since", type=iso_day, help="first day (ISO date)")
    report.add_argument("--until", type=iso_day, help="last day (ISO date)")
    report.set_defaults(func=cmd_report)

    shops = commands.add_parser("shops", help="the configured shops, their shard and pipeline")
    shops.add_argument("--shards", type=positive, default=1, help="N of --shard I/N (default 1)")
    shops.set_defaults(func=cmd_shops)

    replay = commands.add_parser(
        "replay", help="rebuild the commerce tables of shops from raw_orders, with no API request"
    )
    replay.add_argument("--platform", action="append", help="only the shops of this platform")
    replay.add_argument("--shop", action="append", help="only the shop with this label")
    add_destination(replay)
    replay.set_defaults(func=cmd_replay)

    status = commands.add_parser("status", help="per shop: last load, cursors, errors")
    add_destination(status)
    status.set_defaults(func=cmd_status)

    notebooks = commands.add_parser(
        "notebooks", help="run the revenue and refund notebooks and write them as HTML"
    )
    notebooks.add_argument("--html", required=True, metavar="DIR", help="where the pages go")
    add_destination(notebooks)
    notebooks.set_defaults(func=cmd_notebooks)

    simulate = commands.add_parser("simulate", help="serve one platform simulator")
    simulate.add_argument("--platform", required=True)
    simulate.add_argument("--port", type=int, default=8765)
    simulate.add_argument("--orders", type=int, default=200)
    simulate.add_argument("--seed", type=int, default=7)
    simulate.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code. Errors are one line on stderr."""
    args = build_parser().parse_args(argv)
    use_dlt_settings()
    quiet_logging(verbose=getattr(args, "verbose", False))
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, where a broken pipe can be caught
        return code
    except BrokenPipeError:  # `shopduck report | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # cron-safe: one line, non-zero
        from pipelines.errors import one_line

        print(f"shopduck: {one_line(error)}", file=sys.stderr)
        return 1


def quiet_logging(verbose: bool) -> None:
    """shopduck's warnings as one line each on stderr; dlt's own output only with --verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="shopduck: %(message)s"
    )
    if not verbose:
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
        logging.getLogger("dlt").setLevel(logging.ERROR)


def interrupted(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: one line, the mapping workers stopped, exit 130 / 143 at once. What is
    on disk is safe at any instant (a load killed with -9 is finished by the next run), so
    nothing waits for threads that may be blocked in a request or a load."""
    print("shopduck: interrupted: rerun to continue", file=sys.stderr, flush=True)
    stop_mapping_processes()
    with contextlib.suppress(OSError):
        sys.stdout.flush()
    os._exit(128 + signum)


def stop_mapping_processes() -> None:
    """Kill the mapping fork server and its workers, which ignore Ctrl-C: left running, they
    would hold the terminal's (or a scheduler's) output open after this process has gone. Not
    multiprocessing's resource tracker, which removes the semaphores they leave. (Imports
    nothing: the signal may arrive in the middle of an import.)"""
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "multiprocessing.resource_tracker" not in " ".join(process.cmdline()):
                process.kill()


# The loading commands: their process is lean (`pipelines.lean`): without pandas, SQLAlchemy
# and httpx's command line, which a load would otherwise import (67 MB), and two malloc arenas.
LOADING_COMMANDS = frozenset({"load", "replay"})


def run() -> None:
    """The `shopduck` console script: `main` with Ctrl-C and SIGTERM handled."""
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    # An interrupted load exits at once, leaving its mapping queues' semaphores to
    # multiprocessing's resource tracker, which removes them and warns of each: expected, not
    # news to the user. The tracker, started later, takes its warning filters from these.
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
    if sys.argv[1:2] and sys.argv[1] in LOADING_COMMANDS:
        do_without_unused_libraries()
        use_two_malloc_arenas()
    exit_without_teardown(main())


def exit_without_teardown(code: int) -> NoReturn:
    """Exit with `code` as `sys.exit` would (atexit's handlers run: logging flushed,
    multiprocessing's children stopped), less the interpreter's teardown, which frees one by
    one the objects of every library a command imported: about a quarter of a second of each load,
    memory the system takes back at once. Where a thread still runs, the usual exit."""
    others = [thread for thread in threading.enumerate() if thread is not threading.main_thread()]
    if any(not thread.daemon for thread in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
