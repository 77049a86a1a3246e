"""The SQL layer on PostgreSQL 15: the commerce tables of a DuckDB demo warehouse (all five
platforms, shops in three timezones) are copied into a fresh Postgres database, the same models
are built there, every assertion query passes, and the reporting models and the report queries
agree with DuckDB's to the cent.

Needs a PostgreSQL server: `SHOPDUCK_TEST_POSTGRES` is a libpq connection string (default: the
local server as user postgres). Each module works in a database of its own with a unique name,
dropped afterwards; where no server answers, these tests skip and say why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd
import psycopg2
import psycopg2.extensions
import pytest

from pipelines.demo import run_demo
from pipelines.models import ModelError, apply_models, refresh, run_checks
from pipelines.report import summary, top_refunded
from pipelines.warehouse import load_extension
from tests.helpers import break_a_model, copy_commerce, fresh_postgres_database, write_shops
from transforms.tables import TABLES

DEMO_TIMEZONES = {
    ("haravan", "demo-haravan"): "Asia/Ho_Chi_Minh",
    ("spiffy", "demo-spiffy"): "America/Chicago",
    ("flickrocket", "demo-flickrocket"): "Etc/GMT+6",
    ("merchantpro", "demo-merchantpro"): "UTC",
}
pytestmark = pytest.mark.xdist_group("postgres_demo")  # build the demo warehouse once


@pytest.fixture(scope="module")
def engines(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, psycopg2.extensions.connection]]:
    """A demo warehouse with shops in three timezones, its models built, and a Postgres database
    holding a copy of its commerce tables with the same models built there."""
    folder = tmp_path_factory.mktemp("postgres")
    with fresh_postgres_database() as pg:
        warehouse = folder / "shopduck.duckdb"
        assert run_demo(warehouse, orders=60) == 0
        with duckdb.connect(str(warehouse)) as duck:
            write_shops(duck, DEMO_TIMEZONES)
            assert refresh(duck) == {}
            copy_commerce(duck, pg, folder)
            assert refresh(pg) == {}
            yield duck, pg


def test_every_assertion_query_returns_zero_rows_on_postgres(engines):
    duck, pg = engines
    results = run_checks(pg)
    assert {name: rows for name, rows in results.items() if rows} == {}
    assert results.keys() == run_checks(duck).keys()
    assert {f"unique_key_{table.name}" for table in TABLES} <= results.keys()


def test_the_demo_has_orders_whose_shop_local_day_is_not_their_utc_day(engines):
    _, pg = engines
    with pg.cursor() as cursor:
        cursor.execute(
            "select count(*) from reporting.orders "
            "where order_date <> cast(created_at at time zone 'UTC' as date)"
        )
        assert cursor.fetchone()[0] > 0


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("daily_sales", ("day", "platform", "shop", "currency")),
        ("orders", ("platform", "shop", "order_id")),
        ("refunds", ("platform", "shop", "refund_id")),
    ],
)
def test_reporting_models_agree_with_duckdb_to_the_cent(engines, model, key):
    duck, pg = engines
    on_duckdb = duck.execute(f"select * from reporting.{model}")
    duck_columns = [column[0] for column in on_duckdb.description]
    duck_rows = on_duckdb.fetchall()
    with pg.cursor() as cursor:
        cursor.execute(f"select * from reporting.{model}")
        pg_columns = [column[0] for column in cursor.description]
        pg_rows = cursor.fetchall()
    assert pg_columns == duck_columns
    positions = [duck_columns.index(column) for column in key]

    def by_key(row: tuple) -> tuple:
        return tuple(row[i] for i in positions)

    assert len(duck_rows) > 20
    # Exact equality of every value: Decimal money, dates, counts and flags.
    assert sorted(pg_rows, key=by_key) == sorted(duck_rows, key=by_key)


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


@pytest.mark.parametrize("window", ["everything", "middle third"])
def test_report_queries_agree_with_duckdb(engines, window):
    duck, pg = engines
    days = [
        day
        for (day,) in duck.execute(
            "select distinct day from reporting.daily_sales order by day"
        ).fetchall()
    ]
    since, until = (
        (None, None) if window == "everything" else (days[len(days) // 3], days[2 * len(days) // 3])
    )
    assert since is None or isinstance(since, date)
    for report, key in (
        (summary, ["platform", "shop", "currency"]),
        (top_refunded, ["platform", "shop", "currency", "product_id"]),
    ):
        on_duckdb, on_postgres = (
            _sorted(report(duck, since, until), key),
            _sorted(report(pg, since, until), key),
        )
        assert list(on_postgres.columns) == list(on_duckdb.columns)
        assert len(on_duckdb) > 0
        rate = ["refund_rate"] if "refund_rate" in on_duckdb.columns else []
        exact = [column for column in on_duckdb.columns if column not in rate]
        assert on_postgres[exact].to_dict("records") == on_duckdb[exact].to_dict("records")
        # DuckDB divides decimals in double precision: the rates agree to their last digit.
        for theirs, mine in zip(
            on_postgres[rate].to_numpy().flat, on_duckdb[rate].to_numpy().flat, strict=True
        ):
            assert abs(Decimal(theirs) - Decimal(mine)) <= Decimal("0.0001")


def test_a_model_that_fails_leaves_the_previous_reporting_schema_in_place(
    engines, monkeypatch, tmp_path
):
    _, pg = engines
    break_a_model(monkeypatch, tmp_path)
    with pg.cursor() as cursor:
        cursor.execute("select * from reporting.daily_sales order by 1, 2, 3, 4")
        before = cursor.fetchall()
    with pytest.raises(ModelError, match="zz_broken"):
        apply_models(pg)
    with pg.cursor() as cursor:
        cursor.execute("select * from reporting.daily_sales order by 1, 2, 3, 4")
        assert cursor.fetchall() == before
        cursor.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'reporting' and table_name = 'zz_broken'"
        )
        assert cursor.fetchone() == (0,)


def test_the_build_leaves_every_table_analysed_for_the_planner(engines):
    """Right after a load autovacuum has not analysed the new rows yet. Planned without
    statistics, the top refunded products over 100,000 orders ran for over ten minutes; with
    them, in under a second."""
    _, pg = engines
    with pg.cursor() as cursor:
        cursor.execute(
            "select n.nspname, c.relname from pg_class as c "
            "join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname in ('commerce', 'reporting') and c.relkind = 'r' "
            "and c.reltuples < 0"  # -1 until the table is first analysed
        )
        assert cursor.fetchall() == []


MARTS = ("orders", "order_lines", "refunds", "daily_sales", "product_sales")


def test_the_marts_money_has_a_declared_precision_so_every_reader_gets_it_exact(engines):
    """Postgres `numeric` without a declared precision (what a sum or a difference of
    numeric(18,4) is) reaches DuckDB's postgres scanner, and so the notebooks on Postgres, as
    DOUBLE. Every numeric column of a mart declares its precision and scale."""
    _, pg = engines
    with pg.cursor() as cursor:
        cursor.execute(
            "select table_name, column_name, numeric_precision, numeric_scale"
            " from information_schema.columns where table_schema = 'reporting'"
            " and table_name = any(%s) and data_type = 'numeric' order by 1, 2",
            [list(MARTS)],
        )
        numeric = cursor.fetchall()
        dsn = pg.dsn
    assert {table for table, *_ in numeric} == set(MARTS)
    undeclared = [f"{t}.{c}" for t, c, precision, _ in numeric if precision is None]
    assert undeclared == [], ", ".join(undeclared)
    with duckdb.connect() as duck:
        load_extension(duck, "postgres_scanner")
        duck.execute(f"attach '{dsn}' as pg (type postgres, read_only)")
        types = dict(
            duck.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_catalog = 'pg' and table_schema = 'reporting'"
                " and table_name = 'daily_sales'"
            ).fetchall()
        )
    assert types["net_sales"].startswith("DECIMAL") and types["refunds"].startswith("DECIMAL")
