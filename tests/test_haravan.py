"""Haravan end to end against its simulator over loopback (issue: foundation and Haravan)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.http import BucketPacer
from tests.helpers import query, run_load, shop_for
from transforms.haravan import map_order

FIXTURES = Path(__file__).parent / "fixtures"


def list_requests(sim) -> list[str]:
    return [r for r in sim.requests if r.startswith("/com/orders.json")]


def test_every_request_asks_for_any_status_and_the_largest_page(simulator, warehouse):
    sim = simulator("haravan", orders=300)
    [result] = run_load([shop_for("haravan", sim)], warehouse)
    assert result.ok, result.error
    # the API returns open orders only unless status=any; cancelled and closed ones count too
    assert all("status=any" in r and "limit=250" in r for r in list_requests(sim))
    assert query(warehouse, "select count(*) from commerce.orders") == [(300,)]


def test_a_full_bucket_is_paced_not_bounced(simulator, warehouse):
    sim = simulator("haravan", orders=60, rate_limit=True)
    sim.rate_limit.level = 78  # another app has nearly emptied the shop's call budget
    shop = shop_for("haravan", sim, page_size=10)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert sim.throttled == 0
    assert query(warehouse, "select count(*) from commerce.orders") == [(60,)]


def test_pacer_waits_until_the_bucket_has_leaked_below_the_headroom():
    import httpx

    pacer = BucketPacer(header="X-Haravan-Api-Call-Limit", leak_per_second=4.0, headroom=8)
    assert pacer.wait_after(httpx.Headers({"X-Haravan-Api-Call-Limit": "32/80"})) == 0
    assert pacer.wait_after(httpx.Headers({"X-Haravan-Api-Call-Limit": "80/80"})) == 2.0


def test_401_gives_one_line_naming_the_shop_but_not_the_token(
    simulator, warehouse, monkeypatch, capsys
):
    sim = simulator("haravan")
    secret = "wrong-token-4f9a"
    monkeypatch.setenv("SOURCES__HARAVAN__BASE_URL", sim.base_url)
    monkeypatch.setenv("SOURCES__HARAVAN__ACCESS_TOKEN", secret)
    monkeypatch.setenv("SOURCES__HARAVAN__SHOP", "vn-main")
    code = cli.main(["load", "--warehouse", str(warehouse)])
    out, err = capsys.readouterr()
    assert code != 0
    failure, summary = err.strip().splitlines()  # one line per failing shop, one summary
    assert failure.startswith("shopduck: haravan/vn-main: HTTP 401 from GET ")
    assert summary == "shopduck: 1 of 1 shop runs failed"
    assert secret not in out + err


def test_the_documents_sample_order_maps_to_exactly_the_expected_rows():
    payload = json.loads((FIXTURES / "haravan_sample_order.json").read_text())
    rows = map_order(payload)
    [order] = rows["orders"]
    assert order["order_id"] == "450789469" and order["order_number"] == "1001"
    assert (order["subtotal_price"], order["total_tax"], order["total_price"]) == (
        Decimal("398.00"),
        Decimal("11.94"),
        Decimal("409.94"),
    )
    assert order["created_at"].isoformat() == "2008-01-10T16:00:00+00:00"
    assert order["financial_status"] == "authorized" and order["fulfillment_status"] is None
    assert order["total_shipping"] == Decimal("0.00") and order["customer_id"] == "207119551"
    assert [
        (line["line_id"], line["unit_price"], line["quantity"]) for line in rows["order_lines"]
    ] == [
        ("466157049", Decimal("199.00"), 1),
        ("518995019", Decimal("199.00"), 1),
        ("703073504", Decimal("199.00"), 1),
    ]
    assert rows["tax_lines"] == [
        {
            "order_id": "450789469",
            "scope": "order",
            "line_id": "",
            "position": 0,
            "title": "State Tax",
            "rate": Decimal("0.06"),
            "amount": Decimal("11.94"),
        }
    ]
    assert rows["discounts"] == [
        {
            "order_id": "450789469",
            "position": 0,
            "code": "TENOFF",
            "type": "percentage",
            "amount": Decimal("10.00"),
        }
    ]
    assert [(s["title"], s["price"]) for s in rows["shipping_lines"]] == [
        ("Free Shipping", Decimal("0.00"))
    ]
    [fulfillment] = rows["fulfillments"]
    assert (
        fulfillment["fulfillment_id"],
        fulfillment["status"],
        fulfillment["tracking_number"],
    ) == ("255858046", "failure", "1Z2345")
    [refund] = rows["refunds"]
    assert (refund["refund_id"], refund["amount"], refund["restock"], refund["is_derived"]) == (
        "509562969",
        Decimal("209.00"),
        True,
        False,
    )
    assert refund["note"] == "it broke during shipping"
    assert [
        (r["refund_line_id"], r["line_id"], r["quantity"], r["subtotal"])
        for r in rows["refund_lines"]
    ] == [
        ("104689539", "703073504", 1, Decimal("199.00")),
        ("709875399", "466157049", 1, Decimal("199.00")),
    ]
    [transaction] = rows["transactions"]
    assert (
        transaction["transaction_id"],
        transaction["refund_id"],
        transaction["kind"],
        transaction["status"],
        transaction["amount"],
        transaction["currency"],
    ) == ("179259969", "509562969", "refund", "success", Decimal("209.00"), "USD")


def test_card_data_never_reaches_the_warehouse(simulator, warehouse):
    sim = simulator("haravan", orders=20)
    assert run_load([shop_for("haravan", sim)], warehouse)[0].ok
    payloads = " ".join(
        p for (p,) in query(warehouse, "select payload::varchar from commerce.raw_orders")
    )
    assert (
        "credit_card_number" not in payloads
        and "•••• 4242" not in payloads
        and "credit_card_bin" not in payloads
    )


@pytest.mark.parametrize("fault", ["cut", "truncated", "slow"])
def test_cut_truncated_and_slow_responses_are_retried(simulator, warehouse, fault):
    sim = simulator("haravan", orders=30)
    sim.slow_seconds = 1.5  # past the tests' 1 s read timeout
    sim.inject([fault])
    [result] = run_load([shop_for("haravan", sim)], warehouse)
    assert result.ok, result.error
    assert query(warehouse, "select count(*) from commerce.orders") == [(30,)]


@pytest.mark.parametrize(
    ("change", "cancelled"),
    [
        ({}, False),
        ({"cancelled_at": "2008-01-11T09:00:00-05:00"}, True),
        ({"financial_status": "voided"}, True),
        ({"financial_status": "refunded"}, False),
    ],
)
def test_is_cancelled_says_whether_the_order_was_cancelled(change, cancelled):
    payload = json.loads((FIXTURES / "haravan_sample_order.json").read_text()) | change
    assert map_order(payload)["orders"][0]["is_cancelled"] is cancelled


def test_the_warehouse_flags_exactly_the_cancelled_orders(simulator, warehouse):
    sim = simulator("haravan", orders=60)
    assert run_load([shop_for("haravan", sim)], warehouse)[0].ok
    cancelled = {str(o.id) for o in sim.store.visible() if o.cancelled_at is not None}
    assert cancelled
    flagged = query(warehouse, "select order_id from commerce.orders where is_cancelled")
    assert {order_id for (order_id,) in flagged} == cancelled
