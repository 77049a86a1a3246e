"""Spiffy Stores orders: `GET /api/orders.json` (platforms/spiffy.txt).

- Auth: HTTP Basic with the API key and password.
- Envelope `orders`; only OPEN orders unless `status` says otherwise, so every request sends
  `status=any`.
- `limit` defaults to 30 and is capped at 50; paging uses the `since_id` keyset.
- Incremental: `updated_at_min` / `updated_at_max` in the format "2014-12-31 12:00", minute
  precision: the window's start is floored and its end rounded up to the minute, so an order
  updated later in the cursor's minute is read again rather than lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from pipelines.core import Platform, RunOptions, Shop, updated_window, window_params
from pipelines.http import ApiClient, RetryPolicy
from pipelines.paging import Page, keyset_pages
from transforms.spiffy import map_order

ENDPOINT = "/api/orders.json"
MAX_PAGE_SIZE = 50


def minute(moment: datetime) -> str:
    """Spiffy's filter format, UTC to the minute: 2014-12-31 12:00."""
    return moment.strftime("%Y-%m-%d %H:%M")


def connect(shop: Shop, policy: RetryPolicy) -> ApiClient:
    """A client authenticating with HTTP Basic (API key, password)."""
    auth = httpx.BasicAuth(shop.secret("api_key"), shop.secret("password"))
    return ApiClient(shop.name, shop.base_url, auth=auth, policy=policy)


def fetch(client: ApiClient, shop: Shop, cursor: dict[str, Any], run: RunOptions) -> Iterator[Page]:
    """Every order (any status) updated inside the run's window, by since_id keyset."""
    window = updated_window(cursor, shop, run, precision=timedelta(minutes=1))
    page_size = shop.page_size_within(MAX_PAGE_SIZE)
    params = {"status": "any", "limit": page_size, **window_params(window, minute)}
    yield from keyset_pages(
        client, ENDPOINT, params, envelope="orders", id_param="since_id", page_size=page_size
    )
    cursor["updated_at"] = window.cursor


def list_ids(client: ApiClient, shop: Shop) -> Iterator[Page]:
    """Every order id (any status), 50 a request, only the `id` field."""
    params = {"status": "any", "limit": MAX_PAGE_SIZE, "fields": "id"}
    yield from keyset_pages(
        client, ENDPOINT, params, envelope="orders", id_param="since_id", page_size=MAX_PAGE_SIZE
    )


PLATFORM = Platform(
    name="spiffy",
    connect=connect,
    fetch=fetch,
    list_ids=list_ids,
    map_order=map_order,
)
