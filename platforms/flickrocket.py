"""FlickRocket orders: `GET /api/orders.json`, as FlickRocket's API document describes it.

- Auth: `Authorization: Bearer <access_token>`.
- Envelope `orders`. The document shows no page size or page parameter: the server decides how
  many orders a response holds, so paging is by `since_id` keyset until an empty page.
- Incremental: `updated_at_min` (and `updated_at_max`) as GMT without an offset,
  `2016-02-05T15:57:11`; `GET /api/orders/count.json` counts the same window.
- Reconciliation: `fields=id,updated_at` lists every order; `ids=` fetches chosen ones.
- Money in cents, tax lines as taxed base + percentage (see transforms/flickrocket.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pipelines.platform import Bearer, Platform
from pipelines.shopify_family import OrdersApi
from pipelines.source import platform_source
from transforms.flickrocket import map_order


def gmt(moment: datetime) -> str:
    """FlickRocket's timestamp format: GMT, no offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


API = OrdersApi(
    endpoint="/api/orders.json",
    count_endpoint="/api/orders/count.json",
    time_format=gmt,
    precision=timedelta(seconds=1),
    status_any=False,
    max_page_size=None,
)

PLATFORM = Platform(
    name="flickrocket",
    auth=Bearer("access_token"),
    fetch=API.fetch,
    list_versions=API.list_versions,
    fetch_ids=API.fetch_ids,
    map_order=map_order,
)

flickrocket_source = platform_source(PLATFORM)
