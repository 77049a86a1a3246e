"""What a platform module declares: how to authenticate and pace requests, how to fetch pages
of orders (and, for reconciliation, list every order's last change and fetch orders by id),
how to map an order, and which per-shop settings it takes. Everything else is derived from the
declaration: the configuration keys, the client, the dlt source."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from pipelines.http import ApiClient, ApiError, BucketPacer, RetryPolicy
from pipelines.paging import Page
from pipelines.shop import RunOptions, Shop
from pipelines.windows import Cursor
from transforms.tables import Rows
from transforms.values import MappingError, timestamp

log = logging.getLogger("shopduck.fetch")


@dataclass(frozen=True)
class Bearer:
    """`Authorization: Bearer <credential>`."""

    key: str

    @property
    def credentials(self) -> tuple[str, ...]:
        return (self.key,)

    def client_args(self, shop: Shop) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {shop.secret(self.key)}"}}


@dataclass(frozen=True)
class Basic:
    """HTTP Basic with two credentials."""

    user: str
    password: str

    @property
    def credentials(self) -> tuple[str, ...]:
        return (self.user, self.password)

    def client_args(self, shop: Shop) -> dict[str, Any]:
        return {"auth": httpx.BasicAuth(shop.secret(self.user), shop.secret(self.password))}


@dataclass(frozen=True)
class Fetched:
    """What a fetch learned, yielded once after its last page: the API's own count of
    the orders the run asked for (None where the API cannot count, or where counting was not
    worth a request) and the highest order id read, for platforms whose cursor keeps one."""

    expected: int | None = None
    max_id: int | None = None


Fetch = Callable[[ApiClient, Shop, Cursor, RunOptions], AsyncIterator[Page | Fetched]]
ListVersions = Callable[[ApiClient, Shop], AsyncIterator[tuple[str, datetime | None]]]
FetchIds = Callable[[ApiClient, Shop, Sequence[str]], AsyncIterator[Page]]


@dataclass(frozen=True)
class Platform:
    """One platform, declared once in its module.

    `fetch` reads the pages a run needs from the shop's cursor, then yields what it learned;
    `list_versions` lists every order id with its last change as cheaply as the API allows and
    `fetch_ids` fetches chosen orders (reconciliation); `map_order` maps one order payload to
    warehouse rows. `options`: per-shop settings this platform reads besides the common ones
    (`mapper_options` among them are passed to `map_order`, e.g. Lunasoft's currency).
    """

    name: str
    auth: Bearer | Basic
    fetch: Fetch
    list_versions: ListVersions
    fetch_ids: FetchIds
    map_order: Callable[..., Rows]
    options: tuple[str, ...] = ()
    mapper_options: tuple[str, ...] = ()
    pacer: BucketPacer | None = None

    @property
    def credentials(self) -> tuple[str, ...]:
        """The credential keys a shop of this platform is configured with."""
        return self.auth.credentials

    def connect(
        self, shop: Shop, policy: RetryPolicy, in_flight: asyncio.Semaphore | None = None
    ) -> ApiClient:
        """A client for the shop's API: its credentials, the retry policy, the pacing (the
        platform's, and the shop's `rate_limit` in requests a second where configured)."""
        rate = shop.options.get("rate_limit")
        return ApiClient(
            shop.label,
            shop.base_url,
            policy=policy,
            pacer=self.pacer,
            rate=float(rate) if rate else None,
            in_flight=in_flight,
            **self.auth.client_args(shop),
        )

    def mapper(self, shop: Shop) -> Callable[..., Rows]:
        """`map_order` with the shop's options it needs bound."""
        options = {k: shop.options[k] for k in self.mapper_options if k in shop.options}
        return partial(self.map_order, **options) if options else self.map_order


async def count_or_none(
    client: ApiClient, path: str, params: Mapping[str, Any], decode: Callable[[bytes], int]
) -> int | None:
    """The API's count of the orders a request matches; None, with a warning, when the API
    cannot say: a count checks a load, it is no reason to fail one."""
    try:
        return await client.get(path, params, decode)
    except ApiError as error:
        log.warning("%s: cannot count the orders read: %s", client.shop, error)
        return None


def listed_versions(records: Iterable[Any], field: str) -> Iterator[tuple[str, datetime | None]]:
    """(id, last change) of listed records decoded as structs with `id` and `field`. Records
    without a usable id are skipped (the load quarantines them); a change time that cannot be
    read is None, so reconciliation refreshes that order."""
    for record in records:
        if record is None or record.id is None or isinstance(record.id, dict | list | bool):
            continue
        try:
            changed = timestamp(getattr(record, field))
        except MappingError:
            changed = None
        yield str(record.id), changed
