"""The orders API that Haravan, Spiffy Stores and FlickRocket share with Shopify: a list
endpoint with `since_id`, `ids`, `fields` and `updated_at_min` / `updated_at_max`, and a count
endpoint taking the same filters. Each platform module declares how its API differs (paths,
time format and precision, status default, page size); the reading is done here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from pipelines.http import ApiClient, UnexpectedBody
from pipelines.paging import Page, keyset_pages
from pipelines.platform import Fetched, count_or_none, listed_versions
from pipelines.shop import RunOptions, Shop
from pipelines.windows import Cursor, updated_window


class Version(msgspec.Struct):
    """An order as listed with `fields=id,updated_at`."""

    id: Any = None
    updated_at: Any = None


class Count(msgspec.Struct):
    """The body of `orders/count.json`."""

    count: int


def _count(body: bytes) -> int:
    try:
        return msgspec.json.decode(body, type=Count).count
    except msgspec.ValidationError as error:
        raise UnexpectedBody(f"count response without a numeric 'count' ({error})") from None


@dataclass(frozen=True)
class OrdersApi:
    """How one Shopify-shaped API reads orders.

    `status_any`: the API lists only open orders unless asked for `status=any`.
    `max_page_size`: the largest `limit` worth asking for (None: the server decides and takes
    no `limit`). Either way the pages end only on an empty one: a server may serve fewer.
    """

    endpoint: str
    count_endpoint: str
    time_format: Callable[[datetime], str]
    precision: timedelta
    status_any: bool
    max_page_size: int | None

    def _params(self, shop: Shop | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"status": "any"} if self.status_any else {}
        if self.max_page_size is not None:
            size = self.max_page_size if shop is None else shop.page_size_within(self.max_page_size)
            params["limit"] = size
        return params

    def _pages(self, client: ApiClient, params: Mapping[str, Any]) -> AsyncIterator[Page]:
        return keyset_pages(client, self.endpoint, params, envelope="orders", id_param="since_id")

    async def fetch(
        self, client: ApiClient, shop: Shop, cursor: Cursor, run: RunOptions
    ) -> AsyncIterator[Page | Fetched]:
        """Every order updated inside the run's window, by `since_id` keyset; then, if the
        window had orders, the API's count of the same window."""
        window = updated_window(cursor, shop, run, precision=self.precision).params(
            self.time_format
        )
        fetched = 0
        async for page in self._pages(client, {**self._params(shop), **window}):
            fetched += len(page)
            yield page
        yield Fetched(await self.count(client, window) if fetched else None)

    async def count(self, client: ApiClient, window: Mapping[str, str]) -> int | None:
        """The API's count of the orders in a window (`orders/count.json`)."""
        params = {**({"status": "any"} if self.status_any else {}), **window}
        return await count_or_none(client, self.count_endpoint, params, _count)

    async def list_versions(
        self, client: ApiClient, shop: Shop
    ) -> AsyncIterator[tuple[str, datetime | None]]:
        """Every order id with its `updated_at`, with the smallest `fields` the API allows."""
        params = {**self._params(), "fields": "id,updated_at"}
        async for page in self._pages(client, params):
            for version in listed_versions(page.fields(Version), "updated_at"):
                yield version

    async def fetch_ids(
        self, client: ApiClient, shop: Shop, ids: Sequence[str]
    ) -> AsyncIterator[Page]:
        """The orders with these ids, `ids=` a page's worth at a time."""
        size = self.max_page_size or 50
        for first in range(0, len(ids), size):
            params = {**self._params(), "ids": ",".join(ids[first : first + size])}
            async for page in self._pages(client, params):
                yield page
