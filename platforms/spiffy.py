"""Spiffy Stores orders: `GET /api/orders.json`, as Spiffy's API document describes it.

- Auth: HTTP Basic with the API key and password.
- Envelope `orders`; only OPEN orders unless `status` says otherwise, so every request sends
  `status=any`.
- `limit` defaults to 30 and is capped at 50; paging uses the `since_id` keyset.
- Incremental: `updated_at_min` / `updated_at_max` in the format "2014-12-31 12:00", minute
  precision: the window's start is floored and its end rounded up to the minute, so an order
  updated later in the cursor's minute is read again rather than lost.
  `GET /api/orders/count.json` counts the same window.
- Reconciliation: `fields=id,updated_at` lists every order; `ids=` fetches chosen ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pipelines.platform import Basic, Platform
from pipelines.shopify_family import OrdersApi
from pipelines.source import platform_source
from transforms.spiffy import map_order


def minute(moment: datetime) -> str:
    """Spiffy's filter format, UTC to the minute: 2014-12-31 12:00."""
    return moment.strftime("%Y-%m-%d %H:%M")


API = OrdersApi(
    endpoint="/api/orders.json",
    count_endpoint="/api/orders/count.json",
    time_format=minute,
    precision=timedelta(minutes=1),
    status_any=True,
    max_page_size=50,
)

PLATFORM = Platform(
    name="spiffy",
    auth=Basic("api_key", "password"),
    fetch=API.fetch,
    list_versions=API.list_versions,
    fetch_ids=API.fetch_ids,
    map_order=map_order,
)

spiffy_source = platform_source(PLATFORM)
