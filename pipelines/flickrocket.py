"""FlickRocket orders: `GET /api/orders.json` (platforms/flickrocket.txt).

- Auth: `Authorization: Bearer <access_token>`.
- Envelope `orders`. The document shows no page size or page parameter: the server decides how
  many orders a response holds, so paging is by `since_id` keyset until an empty page.
- Incremental: `updated_at_min` (and `updated_at_max`) as GMT without an offset,
  `2016-02-05T15:57:11`.
- Money in cents, tax lines as taxed base + percentage (see transforms/flickrocket.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pipelines.core import Platform, RunOptions, Shop, updated_window, window_params
from pipelines.http import ApiClient, RetryPolicy, bearer
from pipelines.paging import Page, keyset_pages
from transforms.flickrocket import map_order

ENDPOINT = "/api/orders.json"


def gmt(moment: datetime) -> str:
    """FlickRocket's timestamp format: GMT, no offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def connect(shop: Shop, policy: RetryPolicy) -> ApiClient:
    """A client sending the shop's access token as a bearer token."""
    return ApiClient(
        shop.name, shop.base_url, headers=bearer(shop.secret("access_token")), policy=policy
    )


def fetch(client: ApiClient, shop: Shop, cursor: dict[str, Any], run: RunOptions) -> Iterator[Page]:
    """Every order updated inside the run's window, by since_id keyset until an empty page."""
    window = updated_window(cursor, shop, run, precision=timedelta(seconds=1))
    params = window_params(window, gmt)
    yield from keyset_pages(client, ENDPOINT, params, envelope="orders", id_param="since_id")
    cursor["updated_at"] = window.cursor


def list_ids(client: ApiClient, shop: Shop) -> Iterator[Page]:
    """Every order id, only the `id` field."""
    yield from keyset_pages(
        client, ENDPOINT, {"fields": "id"}, envelope="orders", id_param="since_id"
    )


PLATFORM = Platform(
    name="flickrocket",
    connect=connect,
    fetch=fetch,
    list_ids=list_ids,
    map_order=map_order,
)
