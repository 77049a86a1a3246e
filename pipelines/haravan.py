"""Haravan orders: `GET /com/orders.json` (platforms/haravan.txt).

- Auth: `Authorization: Bearer <access_token>`.
- Envelope `orders`; only OPEN orders unless `status=any`, so every request sends it.
- `limit` pages up to 250 orders; paging uses the `since_id` keyset, never `page`.
- Incremental: `updated_at_min` / `updated_at_max`, ISO 8601 with an offset.
- Rate limit: a leaky bucket reported as `X-Haravan-Api-Call-Limit: 32/80` that leaks 4 calls a
  second; an empty bucket answers 429 with `Retry-After: 2.0`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pipelines.core import Platform, RunOptions, Shop, updated_window, window_params
from pipelines.http import ApiClient, BucketPacer, RetryPolicy, bearer
from pipelines.paging import Page, keyset_pages
from transforms.haravan import map_order

ENDPOINT = "/com/orders.json"
MAX_PAGE_SIZE = 250
CALL_LIMIT = BucketPacer(header="X-Haravan-Api-Call-Limit", leak_per_second=4.0)


def connect(shop: Shop, policy: RetryPolicy) -> ApiClient:
    """A client sending the shop's access token as a bearer token, paced by the call limit."""
    headers = bearer(shop.secret("access_token"))
    return ApiClient(shop.name, shop.base_url, headers=headers, policy=policy, pacer=CALL_LIMIT)


def fetch(client: ApiClient, shop: Shop, cursor: dict[str, Any], run: RunOptions) -> Iterator[Page]:
    """Every order (any status) updated inside the run's window, by since_id keyset."""
    window = updated_window(cursor, shop, run, precision=timedelta(seconds=1))
    page_size = shop.page_size_within(MAX_PAGE_SIZE)
    params = {"status": "any", "limit": page_size, **window_params(window, datetime.isoformat)}
    yield from keyset_pages(
        client, ENDPOINT, params, envelope="orders", id_param="since_id", page_size=page_size
    )
    cursor["updated_at"] = window.cursor


def list_ids(client: ApiClient, shop: Shop) -> Iterator[Page]:
    """Every order id (any status), 250 a request, only the `id` field."""
    params = {"status": "any", "limit": MAX_PAGE_SIZE, "fields": "id"}
    yield from keyset_pages(
        client, ENDPOINT, params, envelope="orders", id_param="since_id", page_size=MAX_PAGE_SIZE
    )


PLATFORM = Platform(
    name="haravan",
    connect=connect,
    fetch=fetch,
    list_ids=list_ids,
    map_order=map_order,
)
