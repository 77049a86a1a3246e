"""`shopduck report` and `shopduck status`: read-only views of the warehouse."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.errors import ShopduckError
from pipelines.settings import DATASET, DEFAULT_WAREHOUSE

SUMMARY_SQL = """
select platform, shop, currency,
    sum(orders)::bigint as orders,
    sum(gross_sales) as gross_sales,
    sum(discounts) as discounts,
    sum(refunds) as refunds,
    sum(net_sales) as net_sales,
    round(sum(refunds) / nullif(sum(gross_sales), 0), 4) as refund_rate
from reporting.daily_sales
where day >= coalesce(?::date, date '0001-01-01') and day <= coalesce(?::date, date '9999-12-31')
group by all
order by platform, shop, currency
"""

TOP_REFUNDED_SQL = """
with refunded as (
    select r.platform, r.shop, r.currency, l.product_id, any_value(l.title) as title,
        sum(rl.quantity)::bigint as refunded_quantity, sum(rl.subtotal) as refunds
    from reporting.refunds as r
    join commerce.refund_lines as rl using (platform, shop, refund_id)
    join reporting.order_lines as l
        on l.platform = rl.platform and l.shop = rl.shop and l.order_id = rl.order_id
        and l.line_id = rl.line_id
    where not r.is_test and not r.is_cancelled
      and r.refund_date >= coalesce(?::date, date '0001-01-01')
      and r.refund_date <= coalesce(?::date, date '9999-12-31')
    group by all
)
select * from refunded
qualify row_number() over (partition by platform, shop, currency order by refunds desc) <= 3
order by platform, shop, currency, refunds desc
"""


class WarehouseUnavailable(ShopduckError):
    """The warehouse cannot be opened for reading."""


def find_warehouse() -> Path:
    """The notebooks' warehouse: `SHOPDUCK_WAREHOUSE`, else `shopduck.duckdb` here or one
    folder up (where `shopduck demo` writes it when notebooks run from `notebooks/`)."""
    if os.environ.get("SHOPDUCK_WAREHOUSE"):
        return Path(os.environ["SHOPDUCK_WAREHOUSE"])
    candidates = (Path(DEFAULT_WAREHOUSE), Path("..") / DEFAULT_WAREHOUSE)
    return next((path for path in candidates if path.exists()), candidates[0]).resolve()


def open_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a one-line error when the file is missing or locked."""
    if not warehouse.exists():
        raise WarehouseUnavailable(f"no warehouse at {warehouse}: run `shopduck load` first")
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        raise WarehouseUnavailable(
            f"{warehouse} is locked by a running load; try again when it finishes"
        ) from error


def summary(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None) -> pd.DataFrame:
    """Revenue and refunds per platform, shop and currency over [since, until]."""
    return con.execute(SUMMARY_SQL, [since, until]).df()


def top_refunded(
    con: duckdb.DuckDBPyConnection, since: date | None, until: date | None
) -> pd.DataFrame:
    """The three most refunded products per platform, shop and currency (by refund date)."""
    return con.execute(TOP_REFUNDED_SQL, [since, until]).df()


def print_report(warehouse: Path, since: date | None = None, until: date | None = None) -> None:
    """Print the revenue and refund summary and the top refunded products."""
    with open_read_only(warehouse) as con:
        span = f"{since or 'beginning'} .. {until or 'today'}"
        print(f"Revenue and refunds ({span}), per platform, shop and currency")
        print(summary(con, since, until).to_string(index=False))
        print("\nTop refunded products")
        print(top_refunded(con, since, until).to_string(index=False))


STATUS_SQL = f"""
select platform, shop,
    max(finished_at) filter (where succeeded) as last_success,
    arg_max(cursor, finished_at) filter (where succeeded) as cursor,
    sum(orders) filter (where succeeded)::bigint as orders_loaded,
    arg_max(error, finished_at) as last_error,
    arg_max(succeeded, finished_at) as last_run_ok
from {DATASET}.load_runs
group by all
order by platform, shop
"""


def print_status(warehouse: Path) -> None:
    """Print, per shop: last successful load, cursor, orders loaded and the last error."""
    with open_read_only(warehouse) as con:
        frame = con.execute(STATUS_SQL).df()
    print(frame.to_string(index=False) if len(frame) else "no loads recorded yet")
