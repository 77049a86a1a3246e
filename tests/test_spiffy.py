"""Spiffy Stores specifics: status and limit defaults, minute-precision filters, decimal-string
money, coupon plus cart discounts, surcharges and refunds derived from transactions."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.conftest import query, run_load, shop_for
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
    assert all("limit=50" in r for r in sim.requests)
    assert query(warehouse, "select count(*) from commerce.orders") == [(130,)]


def test_surcharges_are_kept_and_counted_in_the_total(simulator, warehouse):
    sim = simulator("spiffy", orders=60)
    assert run_load([shop_for("spiffy", sim)], warehouse)[0].ok
    from simulators.spiffy import surcharge

    expected = sum((surcharge(o) for o in sim.store.visible()), Decimal(0))
    assert expected > 0
    assert query(warehouse, "select sum(total_surcharge) from commerce.orders") == [(expected,)]
