"""MerchantPro orders: `GET /api/v2/orders` (platforms/merchantpro.txt).

- Auth: HTTP Basic with the API key and secret.
- Envelope `data`; `meta.count` and `meta.links.next` (null on the last page).
- Offset paging with `start` and `limit` (at most 100).
- Line items only with `include=line_items`.
- No updated filter: only `created_after`. Incremental runs re-read a trailing window of creation
  dates (default 30 days, `trailing_days`), sorted by `date_created` ascending so that orders
  created while paging land at the end instead of shifting pages, and merge. A change to an order
  created before the window is only seen by `shopduck load --full-refresh`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from pipelines.core import Platform, RunOptions, Shop, created_window_start
from pipelines.http import ApiClient, RetryPolicy
from pipelines.paging import Page, offset_pages
from pipelines.settings import DEFAULT_TRAILING_DAYS
from transforms.merchantpro import map_order

ENDPOINT = "/api/v2/orders"
MAX_PAGE_SIZE = 100


def connect(shop: Shop, policy: RetryPolicy) -> ApiClient:
    """A client authenticating with HTTP Basic (API key, API secret)."""
    auth = httpx.BasicAuth(shop.secret("api_key"), shop.secret("api_secret"))
    return ApiClient(shop.name, shop.base_url, auth=auth, policy=policy)


def has_next(body: Any) -> bool:
    """MerchantPro says there is another page with a `meta.links.next` link."""
    return bool(((body.get("meta") or {}).get("links") or {}).get("next"))


def fetch(client: ApiClient, shop: Shop, cursor: dict[str, Any], run: RunOptions) -> Iterator[Page]:
    """Every order (with its line items) created inside the trailing window, oldest first."""
    trailing_days = int(shop.options.get("trailing_days", DEFAULT_TRAILING_DAYS))
    params: dict[str, Any] = {"include": "line_items", "sort": "date_created"}
    start = created_window_start(cursor, run, trailing_days)
    if start is not None:
        params["created_after"] = start.date().isoformat()
    page_size = shop.page_size_within(MAX_PAGE_SIZE)
    yield from offset_pages(
        client, ENDPOINT, params, envelope="data", page_size=page_size, has_next=has_next
    )
    cursor["loaded_at"] = run.started_at.isoformat()


def list_ids(client: ApiClient, shop: Shop) -> Iterator[Page]:
    """Every order id: `fields=id`, without line items, 100 a request."""
    params = {"fields": "id", "sort": "date_created"}
    yield from offset_pages(
        client, ENDPOINT, params, envelope="data", page_size=MAX_PAGE_SIZE, has_next=has_next
    )


PLATFORM = Platform(
    name="merchantpro",
    connect=connect,
    fetch=fetch,
    list_ids=list_ids,
    map_order=map_order,
)
