"""Spiffy Stores specifics: status and limit defaults, minute-precision filters, decimal-string
money, coupon plus cart discounts, surcharges and refunds derived from transactions."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from simulators.spiffy import shopify_spelling
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import query, run_load, shop_for
from transforms.spiffy import map_order

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_documents_sample_order_maps_to_exactly_the_expected_rows():
    rows = map_order(json.loads((FIXTURES / "spiffy_378.json").read_text()))
    [order] = rows["orders"]
    assert (order["order_id"], order["order_number"], order["currency"]) == ("378", "1169", "AUD")
    assert (order["total_price"], order["total_tax"], order["taxes_included"]) == (
        Decimal("10.0"),
        Decimal("0.91"),
        True,
    )
    assert (order["financial_status"], order["fulfillment_status"]) == ("authorized", None)
    [line] = rows["order_lines"]
    assert (line["line_id"], line["variant_id"], line["variant_title"], line["unit_price"]) == (
        "410",
        "1691",
        "S/Teal-Blue",
        Decimal("10.0"),
    )
    [tax] = rows["tax_lines"]
    assert (tax["title"], tax["rate"], tax["amount"]) == (
        "Including GST",
        Decimal("0.1"),
        Decimal("0.91"),
    )
    [transaction] = rows["transactions"]
    assert (transaction["kind"], transaction["status"], transaction["amount"]) == (
        "authorization",
        "success",
        Decimal("10.0"),
    )
    assert rows["refunds"] == [] and rows["discounts"] == []


def test_successful_refund_transactions_become_derived_refunds():
    payload = json.loads((FIXTURES / "spiffy_378.json").read_text())
    payload["transactions"] += [
        {
            "id": 254,
            "order_id": 378,
            "amount": "4.00",
            "created_at": "2015-03-01T10:00:00Z",
            "gateway": "Friendly Bank",
            "kind": "Refund",
            "status": "Success",
        },
        {
            "id": 255,
            "order_id": 378,
            "amount": "6.00",
            "created_at": "2015-03-02T10:00:00Z",
            "gateway": "Friendly Bank",
            "kind": "Refund",
            "status": "Failure",
        },
    ]
    payload["cart_discount_price"] = "3.8"
    payload["discount_price"] = "1.2"
    rows = map_order(payload)
    assert [
        (r["refund_id"], r["amount"], r["is_derived"], r["created_at"].isoformat())
        for r in rows["refunds"]
    ] == [("254", Decimal("4.00"), True, "2015-03-01T10:00:00+00:00")]
    assert {t["transaction_id"]: t["refund_id"] for t in rows["transactions"]} == {
        "253": None,
        "254": "254",
        "255": None,
    }
    assert rows["orders"][0]["total_discounts"] == Decimal("5.0")
    assert [(d["type"], d["amount"]) for d in rows["discounts"]] == [("cart", Decimal("3.8"))]


def test_an_order_updated_later_in_the_cursors_minute_is_not_lost(simulator, warehouse):
    sim = simulator("spiffy", orders=40)
    shop = shop_for("spiffy", sim, lookback_minutes=0)
    assert run_load([shop], warehouse)[0].ok
    target = sim.store.visible()[5]
    sim.store.cancel(target.id)  # same minute as the cursor the first run stored
    assert run_load([shop], warehouse)[0].ok
    assert query(
        warehouse,
        "select cancelled_at is not null from commerce.orders where order_id = ?",
        [str(target.id)],
    ) == [(True,)]
    assert all(
        " " in r.split("updated_at_min=")[1].split("&")[0].replace("+", " ")
        for r in sim.requests
        if "updated_at_min" in r
    )


def test_page_size_never_exceeds_the_cap_of_fifty(simulator, warehouse):
    sim = simulator("spiffy", orders=130)
    [result] = run_load([shop_for("spiffy", sim, page_size=250)], warehouse)
    assert result.ok
    pages = [r for r in sim.requests if r.startswith("/api/orders.json")]
    assert pages and all("limit=50" in r for r in pages)
    assert query(warehouse, "select count(*) from commerce.orders") == [(130,)]


def test_surcharges_are_kept_and_counted_in_the_total(simulator, warehouse):
    sim = simulator("spiffy", orders=60)
    assert run_load([shop_for("spiffy", sim)], warehouse)[0].ok
    from simulators.spiffy import surcharge

    expected = sum((surcharge(o) for o in sim.store.visible()), Decimal(0))
    assert expected > 0
    assert query(warehouse, "select sum(total_surcharge) from commerce.orders") == [(expected,)]


def sample() -> dict:
    """The document's sample order, with a coupon, a cart discount and a fulfilment."""
    payload = json.loads((FIXTURES / "spiffy_378.json").read_text())
    payload |= {
        "discount_price": "1.2",
        "cart_discount_price": "3.8",
        "fulfilment_status": "fulfilled",
        "fulfilments": [
            {
                "id": 91,
                "created_at": "2015-02-28T09:00:00Z",
                "status": "success",
                "tracking_company": "Australia Post",
                "tracking_number": "AP123",
            }
        ],
    }
    payload["line_items"][0]["discount_price"] = "0.5"
    return payload


def test_an_order_in_shopify_spelling_maps_like_the_documented_spelling():
    documented, shopify = map_order(sample()), map_order(shopify_spelling(sample()))
    assert shopify["orders"] == documented["orders"]
    assert shopify["order_lines"] == documented["order_lines"]
    assert shopify["fulfillments"] == documented["fulfillments"]
    [order] = shopify["orders"]
    assert (order["total_tax"], order["total_discounts"], order["fulfillment_status"]) == (
        Decimal("0.91"),
        Decimal("5.0"),
        "fulfilled",
    )
    [line] = shopify["order_lines"]
    assert (line["variant_id"], line["variant_title"], line["total_discount"]) == (
        "1691",
        "S/Teal-Blue",
        Decimal("0.5"),
    )
    # only the documented spelling tells the cart discount apart from the coupons
    assert [d["type"] for d in documented["discounts"]] == ["cart"]
    assert shopify["discounts"] == []


def test_the_documented_spelling_wins_when_both_are_sent():
    payload = sample() | {"total_tax": "99.00", "fulfillment_status": "partial"}
    payload["total_discounts"] = "99.00"
    payload["line_items"][0] |= {"variant_id": 99, "variant_title": "other"}
    rows = map_order(payload)
    [order], [line] = rows["orders"], rows["order_lines"]
    assert (order["total_tax"], order["fulfillment_status"], order["total_discounts"]) == (
        Decimal("0.91"),
        "fulfilled",
        Decimal("5.0"),
    )
    assert (line["variant_id"], line["variant_title"]) == ("1691", "S/Teal-Blue")


def test_orders_in_shopify_spelling_load_the_same_as_in_the_documented_spelling(
    simulator, tmp_path
):
    sim = simulator("spiffy", orders=80)
    shop = shop_for("spiffy", sim)
    documented, shopify = tmp_path / "documented.duckdb", tmp_path / "shopify.duckdb"
    assert run_load([shop], documented)[0].ok
    sim.renderer.spelling = "shopify"
    sent = sim.renderer.payload(sim.store.visible()[0])
    assert "total_tax" in sent and "tax_price" not in sent and "fulfillments" in sent
    assert "variant_id" in sent["line_items"][0] and "variation_id" not in sent["line_items"][0]
    assert run_load([shop], shopify)[0].ok
    same = {
        "orders": "select order_id, total_price, total_tax, total_discounts, total_shipping,"
        " fulfillment_status, financial_status, is_cancelled from commerce.orders",
        "order_lines": "select line_id, variant_id, variant_title, quantity, unit_price,"
        " total_discount from commerce.order_lines",
        "fulfillments": "select fulfillment_id, order_id, status, created_at, tracking_number"
        " from commerce.fulfillments",
    }
    for sql in same.values():
        assert sorted(query(shopify, sql)) == sorted(query(documented, sql))
    expected = expected_totals("spiffy", sim.store)
    loaded = warehouse_totals(shopify, "spiffy", shop.name)
    for table in same:
        assert loaded[table] == expected[table], table
    assert query(shopify, "select count(variant_id), count(*) from commerce.order_lines")[0][0] > 0
    assert query(shopify, "select count(*) from commerce.fulfillments")[0][0] > 0
    assert query(shopify, "select count(*) from commerce.quarantine") == [(0,)]


@pytest.mark.parametrize(
    ("change", "cancelled"),
    [
        ({}, False),
        ({"cancelled_at": "2015-02-28T03:02:51Z"}, True),
        ({"financial_status": "voided"}, True),
    ],
)
def test_is_cancelled_says_whether_the_order_was_cancelled(change, cancelled):
    assert map_order(sample() | change)["orders"][0]["is_cancelled"] is cancelled
