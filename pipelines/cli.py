"""The `shopduck` command line: load, report, status, simulate and demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.settings import DEFAULT_WAREHOUSE, PLATFORM_IDS, WAREHOUSE_ENV


def warehouse_path(value: str | None) -> Path:
    """--warehouse, else DESTINATION__DUCKDB__CREDENTIALS, else ./shopduck.duckdb."""
    chosen = value or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE
    chosen = chosen.removeprefix("duckdb:///")
    return Path(chosen).expanduser().resolve()


def _since(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cmd_load(args: argparse.Namespace) -> int:
    from pipelines.config import configured_shops, lock_wait_seconds, retry_policy
    from pipelines.core import RunOptions
    from pipelines.models import refresh_models
    from pipelines.reconcile import reconcile_shops
    from pipelines.runner import load_shops, warehouse_lock

    warehouse = warehouse_path(args.warehouse)
    shops = configured_shops(args.platform or (), args.shop or ())
    if not shops:
        print(
            "shopduck: no shop is configured (set SOURCES__<PLATFORM>__BASE_URL)", file=sys.stderr
        )
        return 2
    options = RunOptions(
        started_at=datetime.now(UTC),
        full_refresh=args.full_refresh,
        since=_since(args.since) if args.since else None,
        retry=retry_policy(),
    )
    with warehouse_lock(warehouse, lock_wait_seconds()):
        results = load_shops(shops, warehouse, options, progress=args.progress)
        reconciled = reconcile_shops(shops, warehouse, options) if args.reconcile else []
        if any(r.load_info for r in results) or any(i.deleted or i.restored for i in reconciled):
            refresh_models(warehouse)
    for result in results:
        if result.load_info:
            print(result.load_info)
    for item in reconciled:
        outcome = item.error or (
            f"{item.listed} orders listed, {item.deleted} newly deleted, {item.restored} restored"
        )
        print(f"{item.shop.platform}/{item.shop.name}: reconciled: {outcome}")
    failed = [r for r in results if not r.ok]
    failed_reconcile = [item for item in reconciled if item.error]
    for result in results:
        state = "ok" if result.ok else "FAILED"
        print(
            f"{result.shop.platform}/{result.shop.name}: {state}, {result.stats.orders} orders, "
            f"{result.stats.requests} requests, {result.seconds:.1f}s"
        )
    if failed:
        reasons = "; ".join(f"{r.shop.platform}/{r.shop.name}: {r.error}" for r in failed)
        print(f"shopduck: load failed for {len(failed)} shop(s): {reasons}", file=sys.stderr)
        return 1
    if failed_reconcile:
        reasons = "; ".join(f"{i.shop.platform}/{i.shop.name}: {i.error}" for i in failed_reconcile)
        print(f"shopduck: reconciliation failed: {reasons}", file=sys.stderr)
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.report import print_report

    print_report(warehouse_path(args.warehouse), args.since, args.until)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.report import print_status

    print_status(warehouse_path(args.warehouse))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.registry import SIMULATORS, start_simulator

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


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(warehouse_path(args.warehouse), args.orders)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopduck", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="load all simulators into a warehouse and report")
    demo.add_argument("--warehouse")
    demo.add_argument("--orders", type=int, default=300, help="orders per simulated shop")
    demo.set_defaults(func=cmd_demo)

    load = commands.add_parser("load", help="incremental load of every configured shop")
    load.add_argument("--platform", action="append", choices=PLATFORM_IDS)
    load.add_argument("--shop", action="append", help="only the shop with this label")
    load.add_argument("--warehouse")
    load.add_argument("--full-refresh", action="store_true", help="ignore stored cursors")
    load.add_argument("--since", help="reload orders changed since this ISO date")
    load.add_argument("--reconcile", action="store_true", help="flag orders deleted upstream")
    load.add_argument("--progress", choices=("log", "tqdm", "none"), default="none")
    load.set_defaults(func=cmd_load)

    report = commands.add_parser("report", help="revenue and refund summary")
    report.add_argument("--warehouse")
    report.add_argument("--since", type=date.fromisoformat)
    report.add_argument("--until", type=date.fromisoformat)
    report.set_defaults(func=cmd_report)

    status = commands.add_parser("status", help="per shop: last load, cursors, errors")
    status.add_argument("--warehouse")
    status.set_defaults(func=cmd_status)

    simulate = commands.add_parser("simulate", help="serve one platform simulator")
    simulate.add_argument("--platform", required=True, choices=PLATFORM_IDS)
    simulate.add_argument("--port", type=int, default=8765)
    simulate.add_argument("--orders", type=int, default=200)
    simulate.add_argument("--seed", type=int, default=7)
    simulate.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `shopduck` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as error:  # cron-safe: one line, non-zero
        from pipelines.errors import one_line

        print(f"shopduck: {one_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
