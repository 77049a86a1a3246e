"""Lunasoft shopping-cart orders: `GET {base module url}/orders` (platforms/lunasoft.txt).

- Auth: `Authorization: Bearer <api_key>`.
- Envelope `orders`, 50 orders a page; `next_page` is the next page number or `false`.
- The default sort is `-id` (newest first); loading sorts by `id` ascending and pages by keyset
  on the `id` filter (">= that id") rather than by page number.
- Filters: `id` and `created_on_after` only. New orders are found by the id keyset after the
  highest id loaded; status changes to older orders (their `statuses` grow, `modified`
  changes) by re-reading a trailing window of creation dates (default 30 days,
  `trailing_days`), of which only the orders active since the last run (less the lookback)
  are loaded again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec

from pipelines.core import Platform, RunOptions, Shop, changed_since, created_window_start
from pipelines.http import ApiClient, RetryPolicy, bearer
from pipelines.paging import Page, keyset_pages, record_ids
from pipelines.settings import DEFAULT_TRAILING_DAYS
from transforms.lunasoft import map_order
from transforms.values import MappingError, timestamp

ENDPOINT = "/orders"
PAGE_SIZE = 50


def connect(shop: Shop, policy: RetryPolicy) -> ApiClient:
    """A client sending the shop's API key as a bearer token."""
    return ApiClient(
        shop.name, shop.base_url, headers=bearer(shop.secret("api_key")), policy=policy
    )


def last_page(body: Any) -> bool:
    """Lunasoft marks the last page with `"next_page": false`."""
    return body.get("next_page") is False


def fetch(client: ApiClient, shop: Shop, cursor: dict[str, Any], run: RunOptions) -> Iterator[Page]:
    """The trailing creation window (or everything), then every order after the highest id."""
    highest = cursor.get("max_id")

    def pages(params: dict[str, Any], after_id: int | None) -> Iterator[Page]:
        nonlocal highest
        for page in keyset_pages(
            client,
            ENDPOINT,
            {"sort": "id", **params},
            envelope="orders",
            id_param="id",
            inclusive=True,
            after_id=after_id,
            page_size=PAGE_SIZE,
            is_last=last_page,
        ):
            highest = max([highest or 0, *record_ids(page)])
            yield page

    trailing_days = int(shop.options.get("trailing_days", DEFAULT_TRAILING_DAYS))
    start = created_window_start(cursor, run, trailing_days)
    since = changed_since(cursor, shop, run)
    if start is None:
        yield from pages({}, None)
    else:
        window = {"created_on_after": start.strftime("%Y-%m-%dT%H:%M:%S+0000")}
        for page in pages(window, None):
            active = page.subset(
                since is None or active_since(order, since) for order in page.fields(Activity)
            )
            if active:
                yield active
        yield from pages({}, highest)
    cursor["max_id"] = highest
    cursor["loaded_at"] = run.started_at.isoformat()


class Activity(msgspec.Struct):
    """The dates that tell whether an order changed: creation, last modification, statuses."""

    created: Any = None
    modified: Any = None
    statuses: Any = None


def active_since(order: Activity | None, since: datetime) -> bool:
    """Whether an order was created, modified or given a status at or after `since`; an order
    whose dates cannot be read counts as active (mapping it reports the problem)."""
    if order is None:
        return True
    try:
        statuses = [status.get("created") for status in order.statuses or []]
        created, *changes = (
            timestamp(value) for value in (order.created, order.modified, *statuses)
        )
    except (MappingError, AttributeError, TypeError):
        return True
    return created is None or any(moment >= since for moment in (created, *changes) if moment)


def list_ids(client: ApiClient, shop: Shop) -> Iterator[Page]:
    """Every order id. The API has no field selection, so this reads whole pages of 50."""
    yield from keyset_pages(
        client,
        ENDPOINT,
        {"sort": "id"},
        envelope="orders",
        id_param="id",
        inclusive=True,
        page_size=PAGE_SIZE,
        is_last=last_page,
    )


PLATFORM = Platform(
    name="lunasoft",
    connect=connect,
    fetch=fetch,
    list_ids=list_ids,
    map_order=map_order,
    mapper_options=("currency",),
)
