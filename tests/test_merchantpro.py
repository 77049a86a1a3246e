"""MerchantPro specifics: floats read exactly, line items only on request and with derived
stable ids, line and shipping tax, derived full refunds, offset paging that survives orders
created while it pages, and the trailing creation window."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.helpers import query, run_load, shop_for
from transforms.merchantpro import map_order
from transforms.values import MappingError

FIXTURES = Path(__file__).parent / "fixtures"


def sample(order_id: str) -> dict:
    return json.loads((FIXTURES / f"merchantpro_{order_id}.json").read_text())


def test_float_money_is_read_exactly():
    # the document lists this order without `include=line_items`, which the pipeline always asks
    [order] = map_order(sample("11089919") | {"line_items": []})["orders"]
    assert order["total_price"] == Decimal("30.23") and str(order["total_price"]) == "30.23"
    assert order["total_shipping"] == Decimal("15")
    assert order["created_at"].isoformat() == "2019-12-05T14:11:23+00:00"
    assert (order["financial_status"], order["fulfillment_status"]) == ("awaiting", "awaiting")


def test_the_documents_sample_order_with_line_items_maps_to_exactly_the_expected_rows():
    rows = map_order(sample("64098294"))
    [order] = rows["orders"]
    assert (order["total_price"], order["total_tax"], order["subtotal_price"]) == (
        Decimal("526.55"),
        Decimal("84.07"),
        Decimal("307.05"),
    )
    [line] = rows["order_lines"]
    assert (
        line["line_id"],
        line["product_id"],
        line["sku"],
        line["unit_price"],
        line["tax_amount"],
    ) == ("1958::0", "1958", "3484", Decimal("307.05"), Decimal("58.34"))
    assert [(t["scope"], t["line_id"], t["rate"], t["amount"]) for t in rows["tax_lines"]] == [
        ("line", "1958::0", Decimal("0.19"), Decimal("58.34")),
        ("shipping", "", None, Decimal("25.73")),
    ]
    assert [(s["title"], s["price"]) for s in rows["shipping_lines"]] == [
        ("Speedy", Decimal("161.16"))
    ]


def test_split_orders_keep_their_parent_and_lines_of_one_product_get_distinct_ids():
    payload = sample("12345001")
    payload["line_items"].append(dict(payload["line_items"][0]))
    rows = map_order(payload)
    assert rows["orders"][0]["parent_order_id"] == "39787708"
    assert [line["line_id"] for line in rows["order_lines"]] == ["259::0", "260::0", "259::1"]


def test_a_refunded_order_gives_one_derived_full_refund_dated_by_its_modification():
    payload = sample("12345001") | {
        "payment_status": "refunded",
        "date_modified": "2020-04-01T10:00:00+03:00",
    }
    rows = map_order(payload)
    [refund] = rows["refunds"]
    assert (refund["amount"], refund["is_derived"], refund["created_at"].isoformat()) == (
        Decimal("453.05"),
        True,
        "2020-04-01T07:00:00+00:00",
    )
    assert [(r["line_id"], r["quantity"], r["subtotal"]) for r in rows["refund_lines"]] == [
        ("259::0", 1, Decimal("184.03")),
        ("260::0", 2, Decimal("196.68")),
    ]


def test_every_request_includes_line_items_and_sorts_oldest_first(simulator, warehouse):
    sim = simulator("merchantpro", orders=150)
    assert run_load([shop_for("merchantpro", sim)], warehouse)[0].ok
    *pages, count = sim.requests  # the last request counts the orders (meta.count.total)
    assert all("include=line_items" in r and "sort=date_created" in r for r in pages)
    assert all("limit=100" in r for r in pages)
    assert "fields=id&limit=1" in count and "include" not in count
    expected_lines = sum(len(o.lines) for o in sim.store.visible())
    assert query(warehouse, "select count(*) from commerce.order_lines") == [(expected_lines,)]


def test_an_order_created_while_paging_is_neither_lost_nor_duplicated(simulator, warehouse):
    sim = simulator("merchantpro", orders=150)
    added = []
    sim.hooks.append(lambda n: added.extend(sim.store.add_orders(1)) if n == 1 else None)
    [result] = run_load([shop_for("merchantpro", sim, page_size=40)], warehouse)
    assert result.ok
    assert query(warehouse, "select count(*), count(distinct order_id) from commerce.orders") == [
        (151, 151)
    ]
    assert query(
        warehouse, "select count(*) from commerce.orders where order_id = ?", [str(added[0].id)]
    ) == [(1,)]


def test_a_status_change_inside_the_window_is_picked_up_and_older_ones_need_a_full_refresh(
    simulator, warehouse
):
    sim = simulator("merchantpro", orders=120)
    shop = shop_for("merchantpro", sim)
    assert run_load([shop], warehouse)[0].ok
    orders = sim.store.visible()
    recent = next(
        o for o in reversed(orders) if o.cancelled_at is None and o.financial_status == "paid"
    )
    ancient = next(o for o in orders if o.cancelled_at is None and o.financial_status == "paid")
    sim.store.refund(recent.id, partial=False)
    sim.store.cancel(ancient.id)
    before = len(sim.requests)
    assert run_load([shop], warehouse)[0].ok
    incremental = [unquote(r) for r in sim.requests[before:]]
    # the window is listed by id and date_modified only; just the modified order is fetched
    assert all("created_after=" in r and "fields=id,date_modified" in r for r in incremental[:-1])
    assert incremental[-1].count("ids=") == 1 and f"ids={recent.id}&" in incremental[-1]
    status = dict(query(warehouse, "select order_id, financial_status from commerce.orders"))
    assert status[str(recent.id)] == "refunded"
    assert query(
        warehouse, "select count(*) from commerce.refunds where order_id = ?", [str(recent.id)]
    ) == [(1,)]
    assert status[str(ancient.id)] == "paid"  # created 60+ days ago: outside the window
    assert run_load([shop], warehouse, full_refresh=True)[0].ok
    status = dict(query(warehouse, "select order_id, financial_status from commerce.orders"))
    assert status[str(ancient.id)] == "canceled"


@pytest.mark.parametrize(
    ("change", "cancelled"),
    [
        ({}, False),
        ({"payment_status": "canceled"}, True),
        ({"payment_status": "cancelled"}, True),  # the document's own samples spell it so too
        ({"shipping_status": "cancelled"}, True),
        ({"payment_status": "refunded", "shipping_status": "returned"}, False),
    ],
)
def test_is_cancelled_says_whether_the_order_was_cancelled(change, cancelled):
    assert map_order(sample("12345001") | change)["orders"][0]["is_cancelled"] is cancelled


def test_an_order_listed_without_its_line_items_is_not_loaded_without_them():
    with pytest.raises(MappingError, match="order_lines: no line_items"):
        map_order(sample("11089919"))  # listed without include=line_items
