"""Haravan orders: `GET /com/orders.json`, as Haravan's API document describes it.

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

from pipelines.http import BucketPacer
from pipelines.platform import Bearer, Platform
from pipelines.shopify_family import OrdersApi
from pipelines.source import platform_source
from transforms.haravan import map_order

API = OrdersApi(
    endpoint="/com/orders.json",
    count_endpoint="/com/orders/count.json",
    time_format=datetime.isoformat,
    precision=timedelta(seconds=1),
    status_any=True,
    max_page_size=250,
)

PLATFORM = Platform(
    name="haravan",
    auth=Bearer("access_token"),
    fetch=API.fetch,
    list_versions=API.list_versions,
    fetch_ids=API.fetch_ids,
    map_order=map_order,
    pacer=BucketPacer(header="X-Haravan-Api-Call-Limit", leak_per_second=4.0),
)

haravan_source = platform_source(PLATFORM)
