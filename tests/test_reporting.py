"""Reporting on a demo warehouse (all five platforms, a full and an incremental load): the
assertion queries pass, the report ties to the commerce tables, and refunds land on their
refund date. And the model runner: models are built after the models they read, in one
transaction, into the schemas the settings name, with staging one-to-one with its source table
and the unique keys checked for every table."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines import models
from pipelines.models import ModelError, apply_models, run_checks
from pipelines.report import open_read_only, summary, top_refunded
from tests.helpers import break_a_model, held_by_another_process, query, table_row
from transforms.tables import TABLES, to_arrow

pytestmark = pytest.mark.xdist_group("demo_warehouse")  # share the demo warehouse (conftest)


@pytest.fixture
def demo_copy(demo_warehouse: Path, tmp_path: Path) -> Path:
    """A copy of the demo warehouse that a test may change."""
    return Path(shutil.copy(demo_warehouse, tmp_path / "copy.duckdb"))


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


def test_the_aggregate_tables_are_rebuilt_by_every_load_that_changes_data(simulator, warehouse):
    from pipelines.models import refresh_models
    from tests.helpers import run_load, shop_for

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


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def test_staging_models_each_read_one_commerce_table_and_no_other_model():
    staging = sorted((models.SQL_DIR / "staging").glob("*.sql"))
    assert staging
    for path in staging:
        sql = _without_comments(path.read_text())
        assert re.findall(r"\breporting\.(\w+)", sql) == [path.stem], path.name
        assert len(set(re.findall(r"\bcommerce\.(\w+)", sql))) == 1, path.name


def _write_models(folder: Path, files: dict[str, str]) -> None:
    for relative, sql in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(sql)


def test_a_model_is_built_after_the_models_it_reads_whatever_its_layer_or_name(
    monkeypatch, tmp_path
):
    _write_models(
        tmp_path,
        {
            "staging/a_first.sql": "create view reporting.a_first as select x + 1 as y from reporting.z_last",
            "marts/z_last.sql": "create table reporting.z_last as select 41 as x",
        },
    )
    monkeypatch.setattr(models, "SQL_DIR", tmp_path)
    with duckdb.connect() as con:
        apply_models(con)
        assert con.execute("select y from reporting.a_first").fetchall() == [(42,)]


def test_a_dependency_cycle_is_reported_by_name(monkeypatch, tmp_path):
    _write_models(
        tmp_path,
        {
            "marts/hen.sql": "create view reporting.hen as select * from reporting.egg",
            "marts/egg.sql": "create view reporting.egg as select * from reporting.hen",
        },
    )
    monkeypatch.setattr(models, "SQL_DIR", tmp_path)
    with duckdb.connect() as con, pytest.raises(ModelError, match=r"cycle.*(egg.*hen|hen.*egg)"):
        apply_models(con)


def test_a_model_that_fails_leaves_the_previous_reporting_schema_in_place(
    demo_copy, monkeypatch, tmp_path
):
    daily = "select * from reporting.daily_sales order by all"
    before = query(demo_copy, daily)
    break_a_model(monkeypatch, tmp_path)
    with duckdb.connect(str(demo_copy)) as con, pytest.raises(ModelError, match="zz_broken"):
        apply_models(con)
    assert query(demo_copy, daily) == before
    kinds = query(
        demo_copy,
        "select table_name from information_schema.tables where table_schema = 'reporting'",
    )
    assert len(kinds) >= 10 and ("zz_broken",) not in kinds


def test_models_read_and_write_the_schemas_they_are_given(demo_copy):
    daily = "select * from {}.daily_sales order by all"
    with duckdb.connect(str(demo_copy)) as con:
        expected = con.execute(daily.format("reporting")).fetchall()
        con.execute("create schema shop_data")
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'commerce'"
        ).fetchall():
            con.execute(f"create table shop_data.{table} as select * from commerce.{table}")
        con.execute("drop schema reporting cascade")
        con.execute("drop schema commerce cascade")
        apply_models(con, dataset="shop_data", reporting="analytics")
        checks = run_checks(con, dataset="shop_data", reporting="analytics")
        assert {name: rows for name, rows in checks.items() if rows} == {}
        assert con.execute(daily.format("analytics")).fetchall() == expected


def test_cancellation_is_read_from_the_orders_flag_not_from_status_words(demo_copy):
    flag = "select is_cancelled from reporting.orders where platform = ? and order_id = ?"
    with duckdb.connect(str(demo_copy)) as con:
        voided, flagged = con.execute(
            "select platform, order_id from commerce.orders "
            "where not is_cancelled and not is_deleted and platform = 'haravan' "
            "order by order_id limit 2"
        ).fetchall()
        con.execute(
            "update commerce.orders set financial_status = 'voided' "
            "where platform = ? and order_id = ?",
            voided,
        )
        con.execute(
            "update commerce.orders set is_cancelled = true where platform = ? and order_id = ?",
            flagged,
        )
        apply_models(con)
        assert con.execute(flag, voided).fetchall() == [(False,)]
        assert con.execute(flag, flagged).fetchall() == [(True,)]


def test_every_commerce_table_is_checked_for_duplicates_of_its_key(demo_copy):
    """The key checks come from transforms/tables.py: a duplicated key in any table, even one
    nobody remembered to list, is reported."""
    with duckdb.connect(str(demo_copy)) as con:
        for table in TABLES:
            key = {column: 0 if column == "position" else "dup" for column in table.key[2:]}
            row = table_row(table, **key) | {"order_id": "dup"}
            duplicate = to_arrow(table, "dup", "dup", [row] * 2)  # noqa: F841
            con.execute(f"insert into commerce.{table.name} by name select * from duplicate")
        results = run_checks(con)
    flagged = {name for name, rows in results.items() if rows and name.startswith("unique_key_")}
    assert flagged == {f"unique_key_{table.name}" for table in TABLES}


def test_a_check_that_cannot_run_is_a_warning_and_the_others_still_run(
    demo_copy, monkeypatch, caplog
):
    """The checks never fail a load: one that cannot run (the five grain checks in one query
    ran out of a load's memory over 250,000 orders, and the whole command failed after its
    shops had loaded) is named in a warning, and the checks after it run."""
    keys = models.unique_key_checks

    def with_one_too_heavy(db, dataset="commerce"):
        return {"aaa_too_heavy": "select error('Out of Memory Error: a stand-in')", **keys(db)}

    monkeypatch.setattr(models, "unique_key_checks", with_one_too_heavy)
    with duckdb.connect(str(demo_copy)) as con:
        con.execute("insert into commerce.orders select * from commerce.orders limit 1")
        failures = models.refresh(con)
    assert "data check aaa_too_heavy could not run on duckdb: " in caplog.text
    assert "Out of Memory Error: a stand-in" in caplog.text
    assert set(failures) >= {"unique_key_orders"}  # run after the one that could not
