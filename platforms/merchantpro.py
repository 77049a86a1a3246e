"""MerchantPro orders: `GET /api/v2/orders`, as MerchantPro's API document describes it.

- Auth: HTTP Basic with the API key and secret.
- Envelope `data`; `meta.count` and `meta.links.next` (null on the last page).
- Offset paging with `start` and `limit` (at most 100).
- Line items only with `include=line_items`.
- No updated filter: only `created_after`. Incremental runs list `id` and `date_modified` of the
  orders in a trailing window of creation dates (default 30 days, `trailing_days`), sorted by
  `date_created` ascending so that orders created while paging land at the end instead of
  shifting pages, then fetch the orders modified since the last run (less the lookback) by
  `ids`, 100 a request. A change to an order created before the window is seen by
  `shopduck load --reconcile` (run it daily) or `--full-refresh`.
- Counts: `meta.count.total`; reconciliation lists `fields=id,date_modified`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from pipelines.http import ApiClient, UnexpectedBody
from pipelines.paging import Page, offset_pages
from pipelines.platform import Basic, Fetched, Platform, count_or_none, listed_versions
from pipelines.shop import RunOptions, Shop
from pipelines.source import platform_source
from pipelines.windows import Cursor, trailing_window
from transforms.merchantpro import map_order

ENDPOINT = "/api/v2/orders"
MAX_PAGE_SIZE = 100


def last_page(body: Any) -> bool:
    """MerchantPro marks the last page with `meta.links.next: null`. A response without that
    link (no `meta`, no `links`, no `next`) says nothing, and paging goes on to an empty page."""
    meta = body.get("meta")
    links = meta.get("links") if isinstance(meta, dict) else None
    return isinstance(links, dict) and "next" in links and links["next"] is None


async def fetch(
    client: ApiClient, shop: Shop, cursor: Cursor, run: RunOptions
) -> AsyncIterator[Page | Fetched]:
    """Every order (with its line items), or on an incremental run those in the trailing
    creation window that were modified since the last run; then the API's count of them."""
    page_size = shop.page_size_within(MAX_PAGE_SIZE)
    window = trailing_window(cursor, shop, run)
    listing = {"sort": "date_created"}
    if window.created_from is not None:
        listing["created_after"] = window.created_from.date().isoformat()
    if window.changed_since is None:
        fetched = 0
        async for page in orders(client, {**listing, "include": "line_items"}, page_size):
            fetched += len(page)
            yield page
        expected = await count(client, listing) if fetched else None
    else:
        changed = [
            order_id
            async for order_id, modified in versions(client, listing)
            if window.changed(modified)
        ]
        async for page in fetch_ids(client, shop, changed):
            yield page
        expected = len(changed)  # every order listed as changed must arrive
    yield Fetched(expected)


def orders(client: ApiClient, params: dict[str, Any], page_size: int) -> AsyncIterator[Page]:
    """`GET /api/v2/orders` with `params`, page by page."""
    return offset_pages(
        client, ENDPOINT, params, envelope="data", page_size=page_size, is_last=last_page
    )


class Modified(msgspec.Struct):
    """An order's id and last modification, as listed with `fields=id,date_modified`."""

    id: Any = None
    date_modified: Any = None


class Meta(msgspec.Struct):
    """The `meta.count.total` of a list response."""

    meta: dict[str, dict[str, Any]]


def _total(body: bytes) -> int:
    try:
        return int(msgspec.json.decode(body, type=Meta).meta["count"]["total"])
    except (msgspec.ValidationError, KeyError, TypeError, ValueError):
        raise UnexpectedBody("list response without meta.count.total") from None


async def count(client: ApiClient, listing: Mapping[str, Any]) -> int | None:
    """The API's count of the orders a listing matches (`meta.count.total` of one small page)."""
    return await count_or_none(client, ENDPOINT, {**listing, "fields": "id", "limit": 1}, _total)


async def versions(
    client: ApiClient, listing: Mapping[str, Any]
) -> AsyncIterator[tuple[str, datetime | None]]:
    """Id and `date_modified` of every order a listing matches, 100 a request."""
    async for page in orders(client, {**listing, "fields": "id,date_modified"}, MAX_PAGE_SIZE):
        for version in listed_versions(page.fields(Modified), "date_modified"):
            yield version


def list_versions(client: ApiClient, shop: Shop) -> AsyncIterator[tuple[str, datetime | None]]:
    """Every order id with its last modification, without line items."""
    return versions(client, {"sort": "date_created"})


async def fetch_ids(client: ApiClient, shop: Shop, ids: Sequence[str]) -> AsyncIterator[Page]:
    """The orders with these ids (with their line items), `ids=` a page's worth at a time."""
    page_size = shop.page_size_within(MAX_PAGE_SIZE)
    for first in range(0, len(ids), page_size):
        chunk = ",".join(ids[first : first + page_size])
        async for page in orders(client, {"ids": chunk, "include": "line_items"}, page_size):
            yield page


PLATFORM = Platform(
    name="merchantpro",
    auth=Basic("api_key", "api_secret"),
    fetch=fetch,
    list_versions=list_versions,
    fetch_ids=fetch_ids,
    map_order=map_order,
    options=("trailing_days",),
)

merchantpro_source = platform_source(PLATFORM)
