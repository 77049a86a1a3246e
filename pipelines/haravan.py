"""Haravan orders: `GET /com/orders.json` (platforms/haravan.txt).

- Auth: `Authorization: Bearer <access_token>`.
- Envelope `orders`; only OPEN orders unless `status=any`, so every request sends it.
- `limit` asks for up to 250 orders (the document states no maximum: a shop may serve fewer);
  paging uses the `since_id` keyset, never `page`.
- Incremental: `updated_at_min` / `updated_at_max`, ISO 8601 with an offset;
  `GET /com/orders/count.json` counts the same window.
- Reconciliation: `fields=id,updated_at` lists every order; `ids=` fetches chosen ones.
- Rate limit: a leaky bucket reported as `X-Haravan-Api-Call-Limit: 32/80` that leaks 4 calls a
  second; an empty bucket answers 429 with `Retry-After: 2.0`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pipelines.core import Platform, Shop
from pipelines.http import ApiClient, BucketPacer, RetryPolicy, bearer
from pipelines.shopify_family import OrdersApi
from transforms.haravan import map_order

API = OrdersApi(
    endpoint="/com/orders.json",
    count_endpoint="/com/orders/count.json",
    time_format=datetime.isoformat,
    precision=timedelta(seconds=1),
    status_any=True,
    max_page_size=250,
)
CALL_LIMIT = BucketPacer(header="X-Haravan-Api-Call-Limit", leak_per_second=4.0)


def connect(shop: Shop, policy: RetryPolicy) -> ApiClient:
    """A client sending the shop's access token as a bearer token, paced by the call limit."""
    headers = bearer(shop.secret("access_token"))
    return ApiClient(shop.label, shop.base_url, headers=headers, policy=policy, pacer=CALL_LIMIT)


PLATFORM = Platform(
    name="haravan",
    connect=connect,
    fetch=API.fetch,
    list_versions=API.list_versions,
    fetch_ids=API.fetch_ids,
    map_order=map_order,
)
