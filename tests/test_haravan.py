"""Haravan end to end against its simulator over loopback (issue: foundation and Haravan)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.http import BucketPacer
from tests.conftest import query, run_load, shop_for
from tests.expected import shopify_like_totals, warehouse_totals
from transforms.haravan import map_order

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT_TABLES = (
    "orders",
    "order_lines",
    "refunds",
    "refund_lines",
    "transactions",
    "tax_lines",
    "discounts",
    "shipping_lines",
    "fulfillments",
    "raw_orders",
)


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    return {
        t: sorted(map(repr, query(warehouse, f"select * from commerce.{t}")))
        for t in SNAPSHOT_TABLES
    }


def list_requests(sim) -> list[str]:
    return [r for r in sim.requests if r.startswith("/com/orders.json")]


def test_full_load_equals_the_source_to_the_cent(simulator, warehouse):
    sim = simulator("haravan", orders=300)
    shop = shop_for("haravan", sim, page_size=50)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert warehouse_totals(warehouse, "haravan", shop.name) == shopify_like_totals(sim.store)
    # every request asked for all statuses (the API returns open orders only by default)
    assert all("status=any" in r for r in list_requests(sim))


def test_rerun_without_changes_fetches_one_page_and_changes_nothing(simulator, warehouse):
    sim = simulator("haravan", orders=120)
    shop = shop_for("haravan", sim)
    assert run_load([shop], warehouse)[0].ok
    before = snapshot(warehouse)
    sim.requests.clear()
    [result] = run_load([shop], warehouse)
    assert result.ok
    assert len(list_requests(sim)) == 1
    assert "updated_at_min" in list_requests(sim)[0]
    assert snapshot(warehouse) == before


def test_incremental_run_brings_back_every_change(simulator, warehouse):
    sim = simulator("haravan", orders=150)
    shop = shop_for("haravan", sim, page_size=40)
    assert run_load([shop], warehouse)[0].ok
    store = sim.store
    old = [
        o for o in store.visible() if o.cancelled_at is None and len(o.lines) > 1 and not o.refunds
    ]
    refunded, trimmed, cancelled = old[0].id, old[1].id, old[2].id
    removed_line = store.orders[trimmed].lines[-1].id
    store.add_orders(7)
    store.refund(refunded, partial=True)
    store.remove_line(trimmed)
    store.cancel(cancelled)
    assert run_load([shop], warehouse)[0].ok
    assert warehouse_totals(warehouse, "haravan", shop.name) == shopify_like_totals(store)
    assert query(
        warehouse,
        "select count(*) from commerce.order_lines where line_id = ?",
        [str(removed_line)],
    ) == [(0,)]
    assert query(
        warehouse,
        "select cancelled_at is not null from commerce.orders where order_id = ?",
        [str(cancelled)],
    ) == [(True,)]
    assert query(
        warehouse, "select count(*) from commerce.refunds where order_id = ?", [str(refunded)]
    ) == [(1,)]


def test_an_order_deleted_while_paging_makes_no_other_order_go_missing(simulator, warehouse):
    sim = simulator("haravan", orders=100)
    first_page = [o.id for o in sim.store.visible()[:20]]

    def delete_from_first_page(request_number: int) -> None:
        if request_number == 2:
            sim.store.delete(first_page[3])

    sim.hooks.append(delete_from_first_page)
    shop = shop_for("haravan", sim, page_size=20)
    assert run_load([shop], warehouse)[0].ok
    loaded = {row[0] for row in query(warehouse, "select order_id from commerce.orders")}
    assert {str(o.id) for o in sim.store.visible()} <= loaded


def test_429_and_5xx_bursts_are_survived(simulator, warehouse):
    sim = simulator("haravan", orders=80)
    sim.inject(["429", "500", "502", "503", "429-bare"])
    shop = shop_for("haravan", sim, page_size=30)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert warehouse_totals(warehouse, "haravan", shop.name) == shopify_like_totals(sim.store)


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
    assert err.strip().count("\n") == 0
    assert "vn-main" in err and "401" in err
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
    assert "credit_card_number" not in payloads and "4242" not in payloads


@pytest.mark.parametrize("fault", ["cut", "truncated", "slow"])
def test_cut_truncated_and_slow_responses_are_retried(simulator, warehouse, fault):
    sim = simulator("haravan", orders=30)
    sim.slow_seconds = 1.5  # past the tests' 1 s read timeout
    sim.inject([fault])
    [result] = run_load([shop_for("haravan", sim)], warehouse)
    assert result.ok, result.error
    assert query(warehouse, "select count(*) from commerce.orders") == [(30,)]
