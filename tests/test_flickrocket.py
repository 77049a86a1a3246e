"""FlickRocket specifics: cents, tax lines that carry a taxed base, refund lines linked through
their embedded line item, GMT timestamps and customer passwords."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.helpers import query, run_load, shop_for
from transforms.flickrocket import map_order
from transforms.scrub import scrub

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> dict:
    return json.loads((FIXTURES / f"flickrocket_{name}.json").read_text())


def test_order_210797_money_is_cents_and_its_tax_line_is_a_base():
    rows = map_order(sample("210797"))
    [order] = rows["orders"]
    assert (order["subtotal_price"], order["total_tax"], order["total_price"]) == (
        Decimal("12.52"),
        Decimal("2.38"),
        Decimal("14.90"),
    )
    assert order["created_at"].isoformat() == "2016-05-09T14:05:16+00:00"
    assert order["order_number"] == "1212-10" and order["is_test"] is True
    [line] = rows["order_lines"]
    assert (line["line_id"], line["product_id"], line["unit_price"], line["quantity"]) == (
        "424819",
        "0000-9933-DFDD-90F7",
        Decimal("14.90"),
        1,
    )
    [tax] = rows["tax_lines"]
    assert (tax["scope"], tax["rate"], tax["amount"]) == ("order", Decimal("0.19"), Decimal("2.38"))


def test_tax_lines_add_up_to_total_tax_even_when_rounding_differs():
    # 8.39 x 19 % = 1.5941, but FlickRocket charged 1.60 (999 gross less an 839 base)
    rows = map_order(sample("199325"))
    assert rows["orders"][0]["total_tax"] == Decimal("1.60")
    assert [t["amount"] for t in rows["tax_lines"]] == [Decimal("1.60")]


def test_order_22503_discount_code_amount_is_cents():
    rows = map_order(sample("22503"))
    [order] = rows["orders"]
    assert (order["total_discounts"], order["total_price"], order["total_tax"]) == (
        Decimal("1.00"),
        Decimal("0.00"),
        Decimal("0.16"),
    )
    assert [(d["code"], d["type"], d["amount"]) for d in rows["discounts"]] == [
        ("CERT-245-9-3208234144162314934", "fixed_amount", Decimal("1.00"))
    ]
    assert sum(t["amount"] for t in rows["tax_lines"]) == Decimal("0.16")


def test_refund_lines_link_through_the_embedded_line_item():
    payload = sample("210797")
    payload["refunds"] = [
        {
            "created_at": "2016-06-02T17:13:38",
            "id": 120879,
            "note": None,
            "order_id": 210797,
            "restock": False,
            "refund_line_items": [
                {"id": 404815, "quantity": 1, "line_item": payload["line_items"][0]}
            ],
            "transactions": [
                {
                    "id": 120880,
                    "order_id": 210797,
                    "gateway": "TeleCash",
                    "created_at": "2016-06-02T13:01:53",
                    "test": False,
                    "status": "success",
                    "amount": 1490,
                    "currency": "EUR",
                }
            ],
        }
    ]
    rows = map_order(payload)
    [refund] = rows["refunds"]
    assert (refund["refund_id"], refund["amount"]) == ("120879", Decimal("14.90"))
    assert refund["created_at"].isoformat() == "2016-06-02T17:13:38+00:00"
    [line] = rows["refund_lines"]
    assert (line["line_id"], line["quantity"], line["subtotal"]) == ("424819", 1, Decimal("14.90"))
    [transaction] = rows["transactions"]
    assert (transaction["kind"], transaction["refund_id"], transaction["amount"]) == (
        "refund",
        "120879",
        Decimal("14.90"),
    )


def test_passwords_are_stripped_before_anything_is_stored(simulator, warehouse):
    payload = {
        "id": 1,
        "customer": {
            "id": 2,
            "password": "newpass",
            "password_confirmation": "newpass",
            "addresses": [{"password": "x"}],
        },
    }
    assert "newpass" not in json.dumps(scrub(payload))
    sim = simulator("flickrocket", orders=30)
    assert run_load([shop_for("flickrocket", sim)], warehouse)[0].ok
    [(payloads,)] = query(
        warehouse, "select string_agg(payload::varchar, ' ') from commerce.raw_orders"
    )
    assert "password" not in payloads and "customer" in payloads


def test_updated_at_min_is_sent_as_gmt_without_an_offset(simulator, warehouse):
    sim = simulator("flickrocket", orders=20)
    shop = shop_for("flickrocket", sim)
    assert run_load([shop], warehouse)[0].ok
    sim.requests.clear()
    assert run_load([shop], warehouse)[0].ok
    first = sim.requests[0]
    assert "updated_at_min=" in first and "%2B" not in first and "limit" not in first


def test_is_cancelled_says_whether_the_order_was_cancelled():
    payload = sample("210797")
    assert map_order(payload)["orders"][0]["is_cancelled"] is False
    payload["cancelled_at"] = "2016-05-10T09:00:00"
    assert map_order(payload)["orders"][0]["is_cancelled"] is True
