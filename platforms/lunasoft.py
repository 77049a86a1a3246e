"""Lunasoft shopping-cart orders: `GET {base module url}/orders`, as its document describes it.

- Auth: `Authorization: Bearer <api_key>`.
- Envelope `orders`, 50 orders a page; `next_page` is the next page number or `false`.
- The default sort is `-id` (newest first); loading sorts by `id` ascending and pages by keyset
  on the `id` filter (">= that id") rather than by page number.
- Filters: `id` and `created_on_after` only. New orders are found by the id keyset after the
  highest id loaded; status changes to older orders (their `statuses` grow, `modified`
  changes) by re-reading a trailing window of creation dates (default 30 days,
  `trailing_days`), of which only the orders active since the last run (less the lookback)
  are loaded again. A change to an order created before the window is seen by
  `shopduck load --reconcile` (run it daily).
- No count endpoint: runs are not counted. Reconciliation reads whole pages (no `fields`) and
  fetches chosen orders with the single-order endpoint `GET /orders/{id}`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import msgspec

from pipelines.http import ApiClient
from pipelines.paging import Page, keyset_pages, page_body, record_ids
from pipelines.platform import Bearer, Fetched, Platform, listed_versions
from pipelines.shop import RunOptions, Shop
from pipelines.source import platform_source
from pipelines.windows import Cursor, trailing_window
from transforms.lunasoft import map_order
from transforms.values import MappingError, timestamp

ENDPOINT = "/orders"


def last_page(body: Any) -> bool:
    """Lunasoft marks the last page with `"next_page": false`; a response without `next_page`
    says nothing, and paging goes on to an empty page."""
    return body.get("next_page") is False


async def fetch(
    client: ApiClient, shop: Shop, cursor: Cursor, run: RunOptions
) -> AsyncIterator[Page | Fetched]:
    """The trailing creation window (or everything), then every order after the highest id.
    The API cannot count, so nothing is expected; the highest id read is returned."""
    highest = cursor.max_id

    async def pages(params: dict[str, Any], after_id: int | None) -> AsyncIterator[Page]:
        nonlocal highest
        async for page in keyset_pages(
            client,
            ENDPOINT,
            {"sort": "id", **params},
            envelope="orders",
            id_param="id",
            inclusive=True,
            after_id=after_id,
            is_last=last_page,
        ):
            highest = max([highest or 0, *record_ids(page)])
            yield page

    window = trailing_window(cursor, shop, run)
    if window.created_from is None:
        async for page in pages({}, None):
            yield page
    else:
        params = {"created_on_after": window.created_from.strftime("%Y-%m-%dT%H:%M:%S+0000")}
        async for page in pages(params, None):
            active = page.subset(
                window.changed(last_change(order)) for order in page.fields(Activity)
            )
            if active:
                yield active
        async for page in pages({}, highest):
            yield page
    yield Fetched(max_id=highest)


class Activity(msgspec.Struct):
    """The dates that tell whether an order changed: creation, last modification, statuses."""

    created: Any = None
    modified: Any = None
    statuses: Any = None


def last_change(order: Activity | None) -> datetime | None:
    """The latest of an order's creation, modification and status dates; None (so the order
    counts as changed, and mapping reports the problem) where they cannot be read."""
    if order is None:
        return None
    try:
        statuses = [status.get("created") for status in order.statuses or []]
        created, *changes = (
            timestamp(value) for value in (order.created, order.modified, *statuses)
        )
    except (MappingError, AttributeError, TypeError):
        return None
    if created is None:
        return None
    return max([created, *(moment for moment in changes if moment)])


class Version(msgspec.Struct):
    """What tells an order's last change: its modification, else its creation."""

    id: Any = None
    created: Any = None
    modified: Any = None

    @property
    def changed(self) -> Any:
        """`modified`, or `created` where the order was never modified ("", "0000-00-00")."""
        return (
            self.modified
            if self.modified and not self.modified.startswith("0000")
            else self.created
        )


async def list_versions(
    client: ApiClient, shop: Shop
) -> AsyncIterator[tuple[str, datetime | None]]:
    """Every order id with its last change. The API has no field selection, so this reads
    whole pages of 50."""
    async for page in keyset_pages(
        client,
        ENDPOINT,
        {"sort": "id"},
        envelope="orders",
        id_param="id",
        inclusive=True,
        is_last=last_page,
    ):
        for version in listed_versions(page.fields(Version), "changed"):
            yield version


def one_order(body: bytes) -> Page:
    """The single-order endpoint's body (the order object itself) as a page of one order."""
    page, _ = page_body(b'{"orders":[' + body + b"]}", envelope="orders")
    return page


async def fetch_ids(client: ApiClient, shop: Shop, ids: Sequence[str]) -> AsyncIterator[Page]:
    """The orders with these ids, one `GET /orders/{id}` each (the list has no id filter but
    ">= id")."""
    for order_id in ids:
        yield await client.get(f"{ENDPOINT}/{order_id}", None, one_order)


PLATFORM = Platform(
    name="lunasoft",
    auth=Bearer("api_key"),
    fetch=fetch,
    list_versions=list_versions,
    fetch_ids=fetch_ids,
    map_order=map_order,
    options=("currency", "trailing_days"),
    mapper_options=("currency",),
)

lunasoft_source = platform_source(PLATFORM)
