"""APIs that serve fewer orders a page than asked for (documents never state a maximum; real APIs
cap differently by plan): per platform against its simulator with a silent page cap, full and
incremental loads still equal the source, reconciliation still lists every id, and paging ends
only on an empty page or the API's explicit last-page signal, never on a short page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pipelines.reconcile import reconcile_shops
from pipelines.shop import RunOptions
from simulators.registry import SIMULATORS
from simulators.server import on_response
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import FAST_RETRY, run_load, shop_for

PLATFORMS = sorted(SIMULATORS)
CAP = 20  # below what shopduck asks every platform for (and below FlickRocket's own 25)
UPDATED_FILTER = ["flickrocket", "haravan", "spiffy"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_full_load_from_a_capped_api_equals_the_source(platform, simulator, warehouse):
    sim = simulator(platform, orders=120, page_cap=CAP)
    shop = shop_for(platform, sim)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert result.stats.pages >= 120 // CAP
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, sim.store)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_incremental_run_on_a_capped_api_picks_up_every_change(platform, simulator, warehouse):
    sim = simulator(platform, orders=100)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    sim.renderer.page_cap = CAP  # the shop moves to a plan with smaller pages
    store = sim.store
    recent = [o for o in store.visible() if o.cancelled_at is None and not o.refunds]
    refunded, cancelled, trimmed = (o.id for o in recent[-3:])
    store.add_orders(2 * CAP + 5)
    store.refund(refunded, partial=True)
    store.cancel(cancelled)
    store.remove_line(trimmed)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert result.stats.orders >= 2 * CAP + 5
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, store)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_reconcile_on_a_capped_api_lists_every_id_and_flags_only_the_deleted_order(
    platform, simulator, warehouse
):
    sim = simulator(platform, orders=70)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    sim.store.delete(sim.store.visible()[10].id)
    sim.renderer.page_cap = CAP
    options = RunOptions(started_at=datetime.now(UTC), retry=FAST_RETRY)
    [result] = reconcile_shops([shop], warehouse, options)
    assert (result.error, result.source_count, result.flagged_deleted) == (None, 69, 1)


@pytest.mark.parametrize("platform", UPDATED_FILTER)
def test_a_rerun_without_changes_on_a_capped_api_makes_one_request(platform, simulator, warehouse):
    sim = simulator(platform, orders=60, page_cap=CAP)
    shop = shop_for(platform, sim)
    assert run_load([shop], warehouse)[0].ok
    sim.requests.clear()
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert result.stats.orders == 0
    assert len(sim.requests) == 1


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """`body` without the member at `path` (nested keys), if it has it."""
    *parents, name = path
    member = body
    for key in parents:
        member = member.get(key) or {}
    member.pop(name, None)
    return body


@pytest.mark.parametrize(
    ("platform", "member"),
    [
        ("merchantpro", ("meta", "links")),
        ("merchantpro", ("meta",)),
        ("lunasoft", ("next_page",)),
    ],
)
def test_responses_without_a_last_page_signal_are_paged_until_an_empty_page(
    platform, member, simulator, warehouse
):
    """The documents show the signal in every response; an API that leaves it out has not said
    that this page is the last."""
    sim = simulator(platform, orders=90, page_cap=CAP)
    sim.rewrites.append(lambda path, body: without(body, *member))
    shop = shop_for(platform, sim)
    [result] = run_load([shop], warehouse)
    assert result.ok, result.error
    assert warehouse_totals(warehouse, platform, shop.name) == expected_totals(platform, sim.store)


def test_a_capped_merchantpro_links_the_next_page_after_what_it_served(simulator):
    sim = simulator("merchantpro", orders=30, page_cap=CAP)
    headers = {"Authorization": SIMULATORS["merchantpro"].authorization}
    with httpx.Client(base_url=sim.base_url, headers=headers) as http:
        first = http.get("/api/v2/orders", params={"start": 5, "limit": 100}).json()
        last = http.get("/api/v2/orders", params={"start": 25, "limit": 100}).json()
    assert len(first["data"]) == CAP
    assert "start=25&limit=100" in first["meta"]["links"]["next"]
    assert (len(last["data"]), last["meta"]["links"]["next"]) == (5, None)


def test_a_rewrite_changes_only_the_nth_response_to_its_path_and_not_what_is_cached(simulator):
    sim = simulator("haravan", orders=5)
    extra = {"id": 1, "note": "served twice"}

    def append(body: dict[str, Any]) -> dict[str, Any]:
        body["orders"].append(extra)
        body["orders"][0]["note"] = "edited"
        return body

    sim.rewrites.append(on_response(2, "/com/orders.json", append))
    headers = {"Authorization": SIMULATORS["haravan"].authorization}
    with httpx.Client(base_url=sim.base_url, headers=headers) as http:
        count = http.get("/com/orders/count.json", params={"status": "any"}).json()
        bodies = [
            http.get("/com/orders.json", params={"status": "any"}).json()["orders"]
            for _ in range(3)
        ]
    assert count == {"count": 5}
    assert [len(orders) for orders in bodies] == [5, 6, 5]
    assert bodies[1][-1] == extra and bodies[1][0]["note"] == "edited"
    assert bodies[2] == bodies[0] and bodies[0][0]["note"] is None
