"""`shopduck report`: the revenue and refund summary, read-only, from the reporting models."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pandas as pd

from pipelines.models import MODELS_LOCK
from pipelines.settings import DEFAULT_WAREHOUSE, REPORTING_SCHEMA
from pipelines.sql import Connection, database, read_sql
from pipelines.warehouse import (
    Warehouse,
    WarehouseUnavailable,
    as_warehouse,
    configured_warehouse,
)


def find_warehouse() -> Warehouse:
    """The notebooks' warehouse: the configured destination when it is `postgres`
    (`SHOPDUCK__DESTINATION`), else the DuckDB file `SHOPDUCK_WAREHOUSE`, else
    `shopduck.duckdb` here or one folder up (where `shopduck demo` writes it when notebooks run
    from `notebooks/`)."""
    if dlt.config.get("shopduck.destination") == "postgres":
        return configured_warehouse("postgres")
    if os.environ.get("SHOPDUCK_WAREHOUSE"):
        return as_warehouse(Path(os.environ["SHOPDUCK_WAREHOUSE"]))
    candidates = (Path(DEFAULT_WAREHOUSE), Path("..") / DEFAULT_WAREHOUSE)
    return as_warehouse(next((p for p in candidates if p.exists()), candidates[0]).resolve())


def open_read_only(warehouse: Warehouse | Path) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection in which `commerce.*` and `reporting.*` are the
    warehouse's (a Postgres warehouse is attached), or a one-line error when it cannot be
    read."""
    return as_warehouse(warehouse).analyst_connection()


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


def print_report(
    warehouse: Warehouse | Path, since: date | None = None, until: date | None = None
) -> None:
    """Print the revenue and refund summary and the top refunded products."""
    warehouse = as_warehouse(warehouse)
    with warehouse.connect(read_only=True) as db, db.transaction():
        db.lock(MODELS_LOCK, shared=True)  # not while a load rebuilds the models
        built = db.rows(
            "select count(*) from information_schema.tables where table_schema = $schema "
            "and table_name in ('daily_sales', 'refunds', 'order_lines')",
            {"schema": REPORTING_SCHEMA},
        )
        if not built or built[0][0] < 3:
            raise WarehouseUnavailable(
                f"{warehouse.describe()} has no reporting models yet (no load has finished): "
                "run `shopduck load` first"
            )
        span = f"{since or 'beginning'} .. {until or 'today'}"
        print(f"Revenue and refunds ({span}), per platform, shop and currency")
        print(readable(summary(db, since, until)).to_string(index=False))
        print("\nTop refunded products")
        print(readable(top_refunded(db, since, until)).to_string(index=False))


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
