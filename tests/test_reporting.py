"""Reporting on a demo warehouse (all five platforms, a full and an incremental load): the
assertion queries pass, the report ties to the commerce tables, refunds land on their refund
date, and both notebooks execute headless and draw their charts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import jupytext
import pytest
from nbclient import NotebookClient

from pipelines.demo import run_demo
from pipelines.models import run_checks
from pipelines.report import open_read_only, summary, top_refunded
from tests.conftest import held_by_another_process, query

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
pytestmark = pytest.mark.xdist_group("demo_warehouse")  # build the demo warehouse once


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("demo") / "shopduck.duckdb"
    assert run_demo(warehouse, orders=120) == 0
    return warehouse


def test_every_assertion_query_returns_zero_rows(demo_warehouse):
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        results = run_checks(con)
    assert len(results) >= 6
    assert {name: rows for name, rows in results.items() if rows} == {}


def test_the_report_equals_sums_computed_from_the_commerce_tables(demo_warehouse):
    independent = query(
        demo_warehouse,
        """
        with orders as (
            select platform, shop, order_id, currency, coalesce(total_discounts, 0) as discounts
            from commerce.orders
            where not coalesce(is_deleted, false) and not coalesce(is_test, false)
              and cancelled_at is null and coalesce(financial_status, '') not in ('voided', 'canceled')
              and coalesce(fulfillment_status, '') <> 'cancelled'
              and coalesce(order_status, '') <> 'cancelled'
        ),
        gross as (
            select o.platform, o.shop, o.currency, count(distinct o.order_id) as orders,
                sum(case when coalesce(l.is_gift_card, false) then 0 else l.unit_price * l.quantity end) as gross
            from orders as o left join commerce.order_lines as l using (platform, shop, order_id)
            group by all
        ),
        refunded as (
            select o.platform, o.shop, o.currency,
                sum(coalesce((select sum(rl.subtotal) from commerce.refund_lines as rl
                              where rl.platform = r.platform and rl.shop = r.shop
                                and rl.refund_id = r.refund_id), r.amount)) as refunds
            from commerce.refunds as r join orders as o using (platform, shop, order_id)
            group by all
        ),
        discounts as (select platform, shop, currency, sum(discounts) as discounts from orders group by all)
        select g.platform, g.shop, g.currency, g.orders, g.gross, d.discounts, coalesce(r.refunds, 0)
        from gross as g join discounts as d using (platform, shop, currency)
        left join refunded as r using (platform, shop, currency)
        order by 1, 2, 3
    """,
    )
    with open_read_only(demo_warehouse) as con:
        report = summary(con, None, None)
        top = top_refunded(con, None, None)
    reported = [
        (
            r.platform,
            r.shop,
            r.currency,
            int(r.orders),
            Decimal(str(r.gross_sales)),
            Decimal(str(r.discounts)),
            Decimal(str(r.refunds)),
        )
        for r in report.itertuples()
    ]
    assert len(reported) == len(independent) >= 10
    for mine, theirs in zip(reported, independent, strict=True):
        assert mine[:4] == theirs[:4]
        assert [round(x, 2) for x in mine[4:]] == [round(Decimal(x), 2) for x in theirs[4:]]
    assert len(top) > 0


def test_refunds_land_on_their_refund_date_not_the_order_date(demo_warehouse):
    rows = query(
        demo_warehouse,
        """
        select r.platform, r.shop, r.currency, r.refund_date, r.order_date
        from reporting.refunds as r
        where r.refund_date > r.order_date and not r.is_test and not r.is_cancelled
        limit 1
    """,
    )
    assert rows, "the demo has refunds made days after their orders"
    platform, shop, currency, refund_date, order_date = rows[0]

    def refunds_on(day):
        return query(
            demo_warehouse,
            """
            select coalesce(sum(refunds), 0) from reporting.daily_sales
            where platform = ? and shop = ? and currency = ? and day = ?""",
            [platform, shop, currency, day],
        )[0][0]

    expected = query(
        demo_warehouse,
        """
        select sum(refunded_subtotal) from reporting.refunds
        where platform = ? and shop = ? and currency = ? and refund_date = ?
          and not is_test and not is_cancelled""",
        [platform, shop, currency, refund_date],
    )[0][0]
    assert refunds_on(refund_date) == expected > 0
    assert refund_date - order_date >= timedelta(days=1)


def test_report_fails_with_one_clear_line_while_a_load_holds_the_file(demo_warehouse, capsys):
    from pipelines import cli

    with held_by_another_process(demo_warehouse, read_only=False):  # a load is writing
        code = cli.main(["report", "--warehouse", str(demo_warehouse)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "locked by a running load" in err


@pytest.mark.parametrize("name", ["revenue", "refunds"])
def test_notebook_executes_headless_and_draws_its_charts(demo_warehouse, monkeypatch, name):
    monkeypatch.setenv("SHOPDUCK_WAREHOUSE", str(demo_warehouse))
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 3


def test_the_aggregate_tables_are_rebuilt_by_every_load_that_changes_data(simulator, warehouse):
    from pipelines.models import refresh_models
    from tests.conftest import run_load, shop_for

    sim = simulator("haravan", orders=60)
    shop = shop_for("haravan", sim)
    total_orders = "select sum(orders) from reporting.daily_sales"
    assert run_load([shop], warehouse)[0].ok
    refresh_models(warehouse)
    before = query(warehouse, total_orders)[0][0]
    added = sim.store.add_orders(5)
    assert run_load([shop], warehouse)[0].ok
    refresh_models(warehouse)
    counted = [o for o in added if not o.test and o.cancelled_at is None]
    assert query(warehouse, total_orders)[0][0] == before + len(counted)
    kinds = dict(
        query(
            warehouse,
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'reporting'",
        )
    )
    assert kinds["daily_sales"] == "BASE TABLE" and kinds["orders"] == "VIEW"
