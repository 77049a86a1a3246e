"""`shopduck status`: per shop, what the warehouse holds and what the last runs did, read
from `commerce.load_runs` and `commerce.orders`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pipelines.settings import DATASET
from pipelines.warehouse import Warehouse, as_warehouse
from pipelines.windows import Cursor

STORED_SQL = f"""
    select platform, shop, count(*) as orders,
        count(*) filter (where coalesce(is_deleted, false)) as deleted
    from {DATASET}.orders
    group by platform, shop"""
NOTHING_STORED = "select '' as platform, '' as shop, 0 as orders, 0 as deleted where false"

# The latest load run, the latest successful one and the latest reconciliation of each shop,
# and the orders the warehouse holds (reconciliation rows carry a source_count; loads do not).
STATUS_SQL = f"""
with runs as (
    select *,
        row_number() over (
            partition by platform, shop, source_count is null order by finished_at desc
        ) as newest,
        row_number() over (
            partition by platform, shop, source_count is null, succeeded order by finished_at desc
        ) as newest_of_outcome
    from {DATASET}.load_runs
),
stored as ({{stored}})
select r.platform, r.shop, coalesce(s.orders, 0), coalesce(s.deleted, 0),
    r.finished_at, r.succeeded, r.fetched, r.expected, r.error,
    ok.finished_at, cast(ok.cursor as varchar),
    rec.finished_at, rec.source_count, rec.warehouse_count, rec.fetched_missing,
    rec.refreshed_stale, rec.flagged_deleted, rec.error
from runs as r
left join runs as ok
    on ok.platform = r.platform and ok.shop = r.shop and ok.source_count is null
    and ok.succeeded and ok.newest_of_outcome = 1
left join runs as rec
    on rec.platform = r.platform and rec.shop = r.shop and rec.source_count is not null
    and rec.newest = 1
left join stored as s on s.platform = r.platform and s.shop = r.shop
where r.source_count is null and r.newest = 1
order by r.platform, r.shop
"""


def when(moment: datetime | None) -> str:
    """A time to the second, in UTC: 2026-11-25 21:52:17 UTC."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment is not None else "never"


def describe_cursor(text: str | None) -> str:
    """A stored cursor in words: what the next run reads from."""
    cursor = Cursor.from_state(json.loads(text) if text else None)
    parts = []
    if cursor.read_until is not None:
        parts.append(f"changes read until {when(cursor.read_until)}")
    if cursor.max_id is not None:
        parts.append(f"highest id {cursor.max_id}")
    return ", ".join(parts) or "none (the next run reads everything)"


def history(text: str | None) -> str:
    """Whether the warehouse holds the shop's whole history."""
    start = Cursor.from_state(json.loads(text) if text else None).history_from
    if start is None:
        return "complete"
    return (
        f"history from {start:%Y-%m-%d} (a --since partial backfill: "
        "orders last changed before then are not loaded; --full-refresh loads them)"
    )


def completeness(fetched: int | None, expected: int | None) -> str:
    """What the last run read, against the API's own count where it has one."""
    fetched = fetched or 0
    if expected is None:
        return f"{fetched:,} orders fetched"
    gap = f" ({expected - fetched:,} MISSING)" if fetched < expected else ""
    return f"{fetched:,} of {expected:,} orders fetched{gap}"


def shop_lines(row: tuple) -> Iterator[str]:
    """The status block of one shop."""
    (
        platform,
        shop,
        orders,
        deleted,
        last_run,
        succeeded,
        fetched,
        expected,
        error,
        last_ok,
        cursor,
        reconciled_at,
        source,
        stored,
        missing,
        stale,
        flagged,
        rec_error,
    ) = row
    yield f"{platform}/{shop}"
    held = f"{orders:,}" + (f" ({deleted:,} flagged deleted)" if deleted else "")
    yield f"  orders in warehouse  {held}"
    outcome = "ok" if succeeded else "FAILED"
    yield f"  last run             {when(last_run)}, {outcome}: {completeness(fetched, expected)}"
    yield f"  last success         {when(last_ok)}"
    yield f"  cursor               {describe_cursor(cursor)}"
    yield f"  history              {history(cursor)}"
    yield f"  last error           {error or ''}".rstrip()
    if reconciled_at is not None:
        figures = rec_error or (
            f"{source:,} in the source, {stored:,} in the warehouse, {missing:,} missing "
            f"fetched, {stale:,} stale refreshed, {flagged:,} flagged deleted"
        )
        yield f"  last reconcile       {when(reconciled_at)}: {figures}"


def print_status(warehouse: Warehouse | Path) -> None:
    """Print, per shop: orders in the warehouse, the last run and its completeness, the last
    success, the cursor, whether history is complete, the last error and reconciliation."""
    with as_warehouse(warehouse).connect(read_only=True) as db:
        tables = {
            name
            for (name,) in db.rows(
                "select table_name from information_schema.tables where table_schema = $schema",
                {"schema": DATASET},
            )
        }
        stored = STORED_SQL if "orders" in tables else NOTHING_STORED
        query = STATUS_SQL.replace("{stored}", stored)
        rows = db.rows(query) if "load_runs" in tables else []
    if not rows:
        print("no loads recorded yet: run `shopduck load`")
        return
    print("\n\n".join("\n".join(shop_lines(row)) for row in rows))
