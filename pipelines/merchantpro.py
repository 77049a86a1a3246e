"""MerchantPro orders: `GET /api/v2/orders` (platforms/merchantpro.txt).

- Auth: HTTP Basic with the API key and secret.
- Envelope `data`; `meta.count` and `meta.links.next` (null on the last page).
- Offset paging with `start` and `limit` (at most 100).
- Line items only with `include=line_items`.
- No updated filter: only `created_after`. Incremental runs list `id` and `date_modified` of the
  orders in a trailing window of creation dates (default 30 days, `trailing_days`), sorted by
  `date_created` ascending so that orders created while paging land at the end instead of
  shifting pages, then fetch the orders modified since the last run (less the lookback) by
  `ids`, 100 a request. A change to an order created before the window is only seen by
  `shopduck load --full-refresh`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import msgspec

from pipelines.core import Platform, RunOptions, Shop, changed_since, created_window_start
from pipelines.http import ApiClient, RetryPolicy
from pipelines.paging import Page, offset_pages
from pipelines.settings import DEFAULT_TRAILING_DAYS
from transforms.merchantpro import map_order
from transforms.values import MappingError, timestamp

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
    """Every order (with its line items), or on an incremental run those in the trailing
    creation window that were modified since the last run."""
    page_size = shop.page_size_within(MAX_PAGE_SIZE)
    trailing_days = int(shop.options.get("trailing_days", DEFAULT_TRAILING_DAYS))
    start = created_window_start(cursor, run, trailing_days)
    window = {"sort": "date_created"}
    if start is not None:
        window["created_after"] = start.date().isoformat()
    since = changed_since(cursor, shop, run)
    if since is None:
        yield from orders(client, {**window, "include": "line_items"}, page_size)
    else:
        changed = [
            str(record.id)
            for page in orders(client, {**window, "fields": "id,date_modified"}, MAX_PAGE_SIZE)
            for record in page.fields(Modified)
            if record is not None and record.id is not None and modified_since(record, since)
        ]
        for first in range(0, len(changed), page_size):
            ids = ",".join(changed[first : first + page_size])
            yield from orders(client, {"ids": ids, "include": "line_items"}, page_size)
    cursor["loaded_at"] = run.started_at.isoformat()


def orders(client: ApiClient, params: dict[str, Any], page_size: int) -> Iterator[Page]:
    """`GET /api/v2/orders` with `params`, page by page."""
    yield from offset_pages(
        client, ENDPOINT, params, envelope="data", page_size=page_size, has_next=has_next
    )


class Modified(msgspec.Struct):
    """An order's id and last modification, as listed with `fields=id,date_modified`."""

    id: Any = None
    date_modified: Any = None


def modified_since(record: Modified, since: datetime) -> bool:
    """Whether an order was modified at or after `since`; an order whose `date_modified`
    cannot be read counts as modified (mapping it reports the problem)."""
    try:
        modified = timestamp(record.date_modified)
    except MappingError:
        return True
    return modified is None or modified >= since


def list_ids(client: ApiClient, shop: Shop) -> Iterator[Page]:
    """Every order id: `fields=id`, without line items, 100 a request."""
    yield from orders(client, {"fields": "id", "sort": "date_created"}, MAX_PAGE_SIZE)


PLATFORM = Platform(
    name="merchantpro",
    connect=connect,
    fetch=fetch,
    list_ids=list_ids,
    map_order=map_order,
)
