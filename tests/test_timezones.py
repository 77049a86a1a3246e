"""Shop-local days, on DuckDB and on PostgreSQL: a shop in Ho Chi Minh City (UTC+7), one in
Chicago (UTC-6 in January) and one missing from `commerce.shops` (so UTC) each take an order at
23:30 and one at 00:30 local time, and refund each of them two days later, again at 23:30 and
00:30. Orders and refunds land on their shop's local days, and daily_sales sums them per local
day, while the commerce timestamps stay UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import psycopg2.extensions
import pyarrow as pa
import pytest

from pipelines.models import apply_models
from tests.helpers import copy_commerce, fresh_postgres_database, table_row, write_shops
from transforms.tables import ORDER_LINES, ORDERS, REFUND_LINES, REFUNDS, Table, to_arrow

SHOPS = {
    ("haravan", "hcm"): "Asia/Ho_Chi_Minh",
    ("spiffy", "chicago"): "America/Chicago",
    ("lunasoft", "nowhere"): "UTC",  # not in commerce.shops
}
# (order, local creation time, unit price; refund local time, refunded quantity of 1 line)
SCENARIO = (
    ("late", "2024-01-10 23:30", Decimal("10.00"), "2024-01-12 23:30"),
    ("early", "2024-01-11 00:30", Decimal("30.00"), "2024-01-13 00:30"),
)
Connection = duckdb.DuckDBPyConnection | psycopg2.extensions.connection


def at(local: str, zone: str) -> datetime:
    """The UTC instant of a wall-clock time in `zone` (what the platforms send, normalized)."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def scenario_rows(zone: str) -> dict[Table, list[dict[str, object]]]:
    """One shop's rows of the scenario: two orders of two units, one unit of each refunded."""
    rows: dict[Table, list[dict[str, object]]] = {
        ORDERS: [],
        ORDER_LINES: [],
        REFUNDS: [],
        REFUND_LINES: [],
    }
    for name, created, price, refunded in SCENARIO:
        rows[ORDERS].append(
            table_row(ORDERS, order_id=name, created_at=at(created, zone), currency="USD")
            | {"total_discounts": Decimal(0), "total_price": 2 * price}
            | {"is_test": False, "is_cancelled": False, "is_deleted": False}
        )
        rows[ORDER_LINES].append(
            table_row(ORDER_LINES, order_id=name, line_id="1", product_id="p", quantity=2)
            | {"unit_price": price, "total_discount": Decimal(0), "is_gift_card": False}
        )
        rows[REFUNDS].append(
            table_row(REFUNDS, refund_id=f"r-{name}", order_id=name)
            | {"created_at": at(refunded, zone), "amount": price, "is_derived": False}
        )
        rows[REFUND_LINES].append(
            table_row(REFUND_LINES, refund_id=f"r-{name}", refund_line_id="1", order_id=name)
            | {"line_id": "1", "quantity": 1, "subtotal": price}
        )
    return rows


def load_scenario(con: duckdb.DuckDBPyConnection) -> None:
    """The commerce tables of the scenario, typed exactly as the loader types them."""
    con.execute("create schema commerce")
    shops = {key: scenario_rows(zone) for key, zone in SHOPS.items()}
    for table in (ORDERS, ORDER_LINES, REFUNDS, REFUND_LINES):
        arrow = pa.concat_tables(  # noqa: F841 (DuckDB reads it by name)
            to_arrow(table, platform, shop, rows[table]) for (platform, shop), rows in shops.items()
        )
        con.execute(f"create table commerce.{table.name} as select * from arrow")
    write_shops(con, {key: zone for key, zone in SHOPS.items() if key != ("lunasoft", "nowhere")})


def fetch(con: Connection, sql: str) -> list[tuple]:
    """Rows of a query on either engine."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con.execute(sql).fetchall()
    with con.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Connection]:
    """The scenario with the reporting models built, on each engine."""
    folder = tmp_path_factory.mktemp(f"timezones-{request.param}")
    with duckdb.connect(str(folder / "w.duckdb")) as duck:
        load_scenario(duck)
        if request.param == "duckdb":
            apply_models(duck)
            yield duck
            return
        with fresh_postgres_database() as pg:
            copy_commerce(duck, pg, folder)
            apply_models(pg)
            yield pg


def test_the_scenario_straddles_midnight_utc_differently_from_local_time():
    hcm, chicago = SHOPS[("haravan", "hcm")], SHOPS[("spiffy", "chicago")]
    assert (
        at("2024-01-10 23:30", hcm).date()
        == at("2024-01-11 00:30", hcm).date()
        == date(2024, 1, 10)
    )
    assert (
        at("2024-01-10 23:30", chicago).date()
        == at("2024-01-11 00:30", chicago).date()
        == date(2024, 1, 11)
    )


def test_orders_are_dated_by_their_shops_local_day(built):
    rows = fetch(built, "select shop, order_id, order_date from reporting.orders")
    expected = {(shop, "late", date(2024, 1, 10)) for _, shop in SHOPS}
    expected |= {(shop, "early", date(2024, 1, 11)) for _, shop in SHOPS}
    assert set(rows) == expected


def test_commerce_timestamps_stay_utc(built):
    rows = fetch(built, "select shop, created_at from commerce.orders where order_id = 'late'")
    assert {shop: moment.astimezone(UTC) for shop, moment in rows} == {
        shop: at("2024-01-10 23:30", zone) for (_, shop), zone in SHOPS.items()
    }


def test_refunds_are_dated_by_their_shops_local_day(built):
    rows = fetch(
        built,
        "select shop, refund_id, refund_date, order_date, days_to_refund from reporting.refunds",
    )
    expected = {(shop, "r-late", date(2024, 1, 12), date(2024, 1, 10), 2) for _, shop in SHOPS}
    expected |= {(shop, "r-early", date(2024, 1, 13), date(2024, 1, 11), 2) for _, shop in SHOPS}
    assert set(rows) == expected


def test_daily_sales_sums_orders_and_refunds_per_local_day(built):
    rows = fetch(
        built,
        "select shop, day, orders, gross_sales, refunds, net_sales, total_collected "
        "from reporting.daily_sales",
    )
    per_day = {
        date(2024, 1, 10): (1, Decimal(20), Decimal(0), Decimal(20), Decimal(20)),
        date(2024, 1, 11): (1, Decimal(60), Decimal(0), Decimal(60), Decimal(60)),
        date(2024, 1, 12): (0, Decimal(0), Decimal(10), Decimal(-10), Decimal(-10)),
        date(2024, 1, 13): (0, Decimal(0), Decimal(30), Decimal(-30), Decimal(-30)),
    }
    assert sorted(rows) == sorted(
        (shop, day, *figures) for _, shop in SHOPS for day, figures in per_day.items()
    )
