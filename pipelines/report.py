"""`shopduck report`: the revenue and refund summary, read-only, from the reporting models."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.errors import ShopduckError
from pipelines.settings import DEFAULT_WAREHOUSE, REPORTING_SCHEMA
from pipelines.sql import Connection, database, read_sql
from pipelines.warehouse import WarehouseLocked, open_duckdb


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
        return open_duckdb(warehouse, read_only=True)
    except WarehouseLocked as error:
        raise WarehouseUnavailable(
            f"{warehouse} is locked by a running load; try again when it finishes"
        ) from error


def summary(con: Connection, since: date | None, until: date | None) -> pd.DataFrame:
    """Revenue and refunds per platform, shop and currency over the days [since, until]
    (`sql/reports/summary.sql`), on a DuckDB or a PostgreSQL connection."""
    return database(con).frame(read_sql("reports/summary.sql"), {"since": since, "until": until})


def top_refunded(con: Connection, since: date | None, until: date | None) -> pd.DataFrame:
    """The three most refunded products per platform, shop and currency, by refund date
    (`sql/reports/top_refunded.sql`), on a DuckDB or a PostgreSQL connection."""
    return database(con).frame(
        read_sql("reports/top_refunded.sql"), {"since": since, "until": until}
    )


def print_report(warehouse: Path, since: date | None = None, until: date | None = None) -> None:
    """Print the revenue and refund summary and the top refunded products."""
    with open_read_only(warehouse) as con:
        built = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name in ('daily_sales', 'refunds', 'order_lines')",
            [REPORTING_SCHEMA],
        ).fetchone()
        if not built or built[0] < 3:
            raise WarehouseUnavailable(
                f"{warehouse} has no reporting models yet (no load has finished): "
                "run `shopduck load` first"
            )
        span = f"{since or 'beginning'} .. {until or 'today'}"
        print(f"Revenue and refunds ({span}), per platform, shop and currency")
        print(readable(summary(con, since, until)).to_string(index=False))
        print("\nTop refunded products")
        print(readable(top_refunded(con, since, until)).to_string(index=False))


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Money as exact decimals without the warehouse's trailing zeros beyond cents (16630.3000
    is shown as 16630.30; nothing is rounded); rates as they are (0.0810)."""
    money = [name for name in frame.columns if not str(name).endswith("rate")]
    shown = frame.copy()
    shown[money] = frame[money].map(lambda v: _decimal(v) if isinstance(v, Decimal) else v)
    return shown


def _decimal(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents:0<2}" if len(cents) <= 2 else text
