"""Lunasoft specifics: string values, "0000-00-00" and empty dates as NULL, the status history,
refunds derived from it, card data kept out, id keyset paging and the trailing window."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.helpers import query, run_load, shop_for
from transforms.batch import map_page
from transforms.lunasoft import map_order
from transforms.scrub import scrub

FIXTURES = Path(__file__).parent / "fixtures"


def sample() -> dict:
    return json.loads((FIXTURES / "lunasoft_54123.json").read_text())


def test_the_documents_sample_order_maps_to_exactly_the_expected_rows():
    rows = map_order(sample(), currency="USD")
    [order] = rows["orders"]
    assert (order["order_id"], order["order_number"], order["currency"]) == (
        "54123",
        "54123",
        "USD",
    )
    assert (
        order["total_price"],
        order["total_tax"],
        order["total_shipping"],
        order["subtotal_price"],
    ) == (Decimal("322.85"), Decimal("19.86"), Decimal("13.00"), Decimal("289.99"))
    assert order["created_at"].isoformat() == "2015-04-27T23:34:31+00:00"
    assert order["updated_at"] == order["created_at"]  # "modified" is empty: never modified
    assert (order["order_status"], order["financial_status"]) == ("complete", "paid")
    [line] = rows["order_lines"]
    assert (line["line_id"], line["quantity"], line["unit_price"]) == ("3223", 1, Decimal("289.99"))
    assert [
        (h["position"], h["status"], h["created_at"].isoformat())
        for h in rows["order_status_history"]
    ] == [
        (0, "processing", "2015-07-14T15:24:06+00:00"),
        (1, "shipped", "2015-07-15T14:49:44+00:00"),
        (2, "complete", "2015-07-15T14:50:07+00:00"),
    ]
    assert [(t["scope"], t["amount"]) for t in rows["tax_lines"]] == [("order", Decimal("19.86"))]
    assert "refunds" not in rows


def test_reaching_a_refund_status_gives_a_derived_full_refund_dated_by_that_status():
    payload = sample()
    payload["statuses"].insert(
        0,
        {
            "id": "190",
            "status": "Refunded",
            "notes": "returned",
            "created": "2015-08-01T10:00:00-0600",
            "modified": "",
        },
    )
    rows = map_order(payload, currency="USD")
    [refund] = rows["refunds"]
    assert (refund["amount"], refund["is_derived"], refund["created_at"].isoformat()) == (
        Decimal("322.85"),
        True,
        "2015-08-01T16:00:00+00:00",
    )
    assert [(r["line_id"], r["quantity"], r["subtotal"]) for r in rows["refund_lines"]] == [
        ("3223", 1, Decimal("289.99"))
    ]


def test_malformed_dates_and_empty_strings_load_as_null_with_the_rest_intact():
    payload = sample() | {"modified": "0000-00-00", "shipping_cost": "", "tax": ""}
    payload["statuses"][0]["created"] = ""
    payload["statuses"][1]["created"] = "0000-00-00 00:00:00"
    rows, mapped = map_page(lambda p: map_order(p, currency="USD"), [payload], seen_at=None)
    assert mapped == ["54123"] and not rows.get("quarantine")
    [order] = rows["orders"]
    assert order["updated_at"] == order["created_at"] and order["total_shipping"] is None
    assert order["total_tax"] is None and order["total_price"] == Decimal("322.85")
    assert [h["created_at"] for h in rows["order_status_history"]][1:] == [None, None]


def test_card_data_is_stripped():
    cleaned = json.dumps(scrub(sample()))
    assert "card_last_4" not in cleaned and "0027" not in cleaned and "check_num" not in cleaned


def test_new_orders_by_id_keyset_and_status_changes_in_the_window(simulator, warehouse):
    sim = simulator("lunasoft", orders=160)
    shop = shop_for("lunasoft", sim)
    assert run_load([shop], warehouse)[0].ok
    assert all("sort=id" in r and "page=" not in r for r in sim.requests)
    recent = sim.store.visible()[-2]
    sim.store.add_status(recent.id, "Shipped")
    sim.store.add_orders(3)
    sim.requests.clear()
    assert run_load([shop], warehouse)[0].ok
    history = query(
        warehouse,
        "select count(*) from commerce.order_status_history where order_id = ?",
        [str(recent.id)],
    )
    assert history == [(len(recent.history),)]
    assert query(warehouse, "select count(*) from commerce.orders") == [(163,)]
    assert any("created_on_after" in r for r in sim.requests)


def test_an_order_created_while_paging_is_neither_lost_nor_duplicated(simulator, warehouse):
    sim = simulator("lunasoft", orders=140)
    sim.hooks.append(lambda n: sim.store.add_orders(1) if n == 2 else None)
    assert run_load([shop_for("lunasoft", sim)], warehouse)[0].ok
    assert query(warehouse, "select count(*), count(distinct order_id) from commerce.orders") == [
        (141, 141)
    ]


def test_is_cancelled_says_whether_the_order_was_cancelled():
    assert map_order(sample(), currency="USD")["orders"][0]["is_cancelled"] is False
    # the list endpoint sends no history: the current status alone says it
    listed = sample() | {"current_status": "Cancelled"}
    del listed["statuses"]
    assert map_order(listed, currency="USD")["orders"][0]["is_cancelled"] is True
    payload = sample()
    payload["statuses"].insert(
        0, {"id": "188", "status": "Cancelled", "created": "2015-07-16T08:00:00-0600"}
    )
    [order] = map_order(payload, currency="USD")["orders"]
    assert order["is_cancelled"] is True and order["cancelled_at"] is not None
