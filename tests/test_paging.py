"""The pagers against a fake client (no HTTP) that records the queries: keyset and offset
paging end only on an empty page or the API's explicit last-page signal, never because a page
is shorter than the `limit` asked for, and never loop on a page they cannot advance past. Pages
spooled by a fetch arrive in order, errors arrive after the pages before them, and closing the
spool stops the fetching."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from pipelines.fetching import Spool, fetch_in_background
from pipelines.http import ApiError
from pipelines.paging import Page, keyset_pages, offset_pages, page_body
from pipelines.platform import Fetched
from pipelines.shop import RunOptions, Shop
from pipelines.windows import Cursor
from platforms import PLATFORMS
from platforms.merchantpro import last_page as merchantpro_last_page

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class FakeClient:
    """Answers each query with `answer(query)` as JSON, recording the queries; a pager that
    does not end fails the test instead of hanging it."""

    shop = "fake-shop"

    def __init__(self, answer: Answer, most: int = 50) -> None:
        self.answer = answer
        self.most = most
        self.queries: list[dict[str, Any]] = []

    async def get(
        self, path: str, params: Mapping[str, Any], decode: Callable[[bytes], Any]
    ) -> Any:
        self.queries.append(dict(params))
        if len(self.queries) > self.most:
            raise AssertionError(f"paging did not end after {self.most} requests")
        return decode(json.dumps(self.answer(dict(params))).encode())


def since_id_api(count: int, served: int, shown: Mapping[int, Any] | None = None) -> Answer:
    """A `since_id` API over records with ids 1..count that serves at most `served` records a
    page, whatever `limit` asks for. It filters on the true ids; `shown` replaces the id a
    record is sent with (`...`: sent without one), as an API with corrupt records would."""
    shown = shown or {}

    def record(true_id: int) -> dict[str, Any]:
        sent = shown.get(true_id, true_id)
        return {} if sent is ... else {"id": sent}

    def answer(query: dict[str, Any]) -> dict[str, Any]:
        first = query.get("since_id", 0) + 1
        return {"orders": [record(i) for i in range(first, min(first + served, count + 1))]}

    return answer


def drained(items: AsyncIterator[Any]) -> list[Any]:
    """Every item of an asynchronous iterator."""

    async def drain() -> list[Any]:
        return [item async for item in items]

    return asyncio.run(drain())


def ids_of(pages: AsyncIterator[Any]) -> list[Any]:
    return [record_id for page in drained(pages) for record_id in page.ids()]


def test_keyset_paging_goes_on_past_pages_shorter_than_asked_until_an_empty_one():
    client = FakeClient(since_id_api(10, served=3))
    pages = keyset_pages(client, "/orders", {"limit": 250}, envelope="orders", id_param="since_id")
    assert ids_of(pages) == list(range(1, 11))
    assert [q.get("since_id") for q in client.queries] == [None, 3, 6, 9, 10]
    assert all(q["limit"] == 250 for q in client.queries)


def test_inclusive_keyset_asks_for_the_id_after_the_last_one_seen():
    served: list[list[int]] = [[5, 6], [7, 9], []]
    client = FakeClient(lambda query: {"orders": [{"id": i} for i in served.pop(0)]})
    pages = keyset_pages(
        client, "/orders", {}, envelope="orders", id_param="id", inclusive=True, after_id=4
    )
    assert ids_of(pages) == [5, 6, 7, 9]
    assert [q["id"] for q in client.queries] == [5, 7, 10]


def test_keyset_paging_ends_on_the_apis_last_page_signal_without_another_request():
    def answer(query: dict[str, Any]) -> dict[str, Any]:
        first = query.get("id", 1)
        return {"orders": [{"id": first}, {"id": first + 1}], "next_page": first < 3 and 2}

    client = FakeClient(answer)
    pages = keyset_pages(
        client,
        "/orders",
        {},
        envelope="orders",
        id_param="id",
        inclusive=True,
        is_last=lambda rest: rest.get("next_page") is False,
    )
    assert ids_of(pages) == [1, 2, 3, 4]
    assert len(client.queries) == 2


def test_records_without_usable_ids_are_passed_on_but_do_not_stop_or_move_the_keyset():
    client = FakeClient(since_id_api(7, served=3, shown={2: ..., 4: "x", 5: {"n": 1}}))
    pages = keyset_pages(client, "/orders", {}, envelope="orders", id_param="since_id")
    assert ids_of(pages) == [1, None, 3, "x", {"n": 1}, 6, 7]
    assert [q.get("since_id") for q in client.queries] == [None, 3, 6, 7]


def test_a_last_page_of_records_without_usable_ids_ends_the_paging_instead_of_repeating():
    client = FakeClient(since_id_api(3, served=2, shown={3: ...}))
    pages = keyset_pages(client, "/orders", {}, envelope="orders", id_param="since_id")
    assert ids_of(pages) == [1, 2, None]
    assert [q.get("since_id") for q in client.queries] == [None, 2]


def test_an_api_that_ignores_the_keyset_is_an_error_not_an_endless_loop():
    client = FakeClient(lambda query: {"orders": [{"id": 1}, {"id": 2}]})
    pages = keyset_pages(client, "/orders", {}, envelope="orders", id_param="since_id")
    with pytest.raises(ApiError, match=r"fake-shop.*since_id=2"):
        drained(pages)
    assert len(client.queries) == 2


def offset_api(ids: list[Any], served: int, meta: Callable[[int, int], Any]) -> Answer:
    """A `start`/`limit` API over records with `ids` that serves at most `served` records a
    page; `meta(end, total)` is the `meta` member (`...`: left out)."""

    def answer(query: dict[str, Any]) -> dict[str, Any]:
        start = query["start"]
        data = [{"id": i} for i in ids[start : start + min(served, query["limit"])]]
        member = meta(start + len(data), len(ids))
        return {"data": data} if member is ... else {"data": data, "meta": member}

    return answer


def truthful(end: int, total: int) -> dict[str, Any]:
    """MerchantPro's meta: a `next` link while records remain, null on the last page."""
    following = f"/api/v2/orders?start={end}" if end < total else None
    return {"count": {"total": total}, "links": {"prev": None, "next": following}}


def offsets(client: FakeClient, *, overlap: int) -> list[Any]:
    pages = offset_pages(
        client,
        "/api/v2/orders",
        {},
        envelope="data",
        page_size=100,
        is_last=merchantpro_last_page,
        overlap=overlap,
    )
    return ids_of(pages)


def test_offset_paging_advances_by_what_was_served_overlaps_and_drops_exact_repeats():
    client = FakeClient(offset_api(list(range(100, 112)), served=4, meta=truthful))
    assert offsets(client, overlap=1) == list(range(100, 112))
    assert [q["start"] for q in client.queries] == [0, 3, 6, 9]
    assert all(q["limit"] == 100 for q in client.queries)


def test_offset_paging_ends_when_links_next_is_null_without_another_request():
    client = FakeClient(offset_api(list(range(10)), served=5, meta=truthful))
    assert offsets(client, overlap=0) == list(range(10))
    assert [q["start"] for q in client.queries] == [0, 5]


@pytest.mark.parametrize(
    "meta",
    [
        lambda end, total: ...,
        lambda end, total: {"count": {"total": total}},
        lambda end, total: {"links": None},
        lambda end, total: {"links": {"prev": None}},
    ],
    ids=["no meta", "no links", "links null", "no next link"],
)
def test_offset_paging_without_paging_links_goes_on_until_an_empty_page(meta):
    client = FakeClient(offset_api(list(range(10)), served=4, meta=meta))
    assert offsets(client, overlap=0) == list(range(10))
    assert [q["start"] for q in client.queries] == [0, 4, 8, 10]


def test_offset_paging_keeps_repeated_records_without_ids_and_drops_repeated_ones_with_ids():
    client = FakeClient(offset_api([1, None, 3, 4, 5], served=3, meta=truthful))
    assert offsets(client, overlap=2) == [1, None, 3, None, 4, 5]
    assert [q["start"] for q in client.queries] == [0, 1, 2]


def test_an_api_that_ignores_the_offset_is_an_error_not_an_endless_loop():
    client = FakeClient(lambda query: {"data": [{"id": 1}, {"id": 2}], "meta": {}})
    with pytest.raises(ApiError, match=r"fake-shop.*start=1"):
        offsets(client, overlap=1)
    assert len(client.queries) == 2


def lunasoft_api(count: int, served: int) -> Answer:
    """Lunasoft's `id` (">= that id") filter over ids 1..count, at most `served` a page, with a
    truthful `next_page`."""

    def answer(query: dict[str, Any]) -> dict[str, Any]:
        first = query.get("id", 1)
        last = min(first + served, count + 1)
        return {
            "orders": [{"id": str(i)} for i in range(first, last)],
            "next_page": 2 if last <= count else False,
        }

    return answer


CAPPED_APIS: dict[str, Answer] = {
    "flickrocket": since_id_api(23, served=5),
    "haravan": since_id_api(23, served=5),
    "spiffy": since_id_api(23, served=5),
    "lunasoft": lunasoft_api(23, served=5),
    "merchantpro": offset_api(list(range(1, 24)), served=5, meta=truthful),
}


@pytest.mark.parametrize("platform", sorted(CAPPED_APIS))
def test_every_platform_lists_every_id_of_an_api_serving_fewer_than_asked(platform):
    client = FakeClient(CAPPED_APIS[platform])
    shop = Shop(platform, "capped", "https://shop.example.com", {})
    versions = drained(PLATFORMS[platform].list_versions(client, shop))  # type: ignore[arg-type]
    assert sorted(int(order_id) for order_id, _ in versions) == list(range(1, 24))


def page_of(number: int) -> Page:
    return Page([msgspec.Raw(json.dumps({"id": number}).encode())])


def test_spooled_pages_arrive_in_order_and_an_error_after_the_pages_before_it():
    spool = Spool()
    for number in range(10):
        spool.append(page_of(number))
    spool.fail(ValueError("page 11 failed"))
    received = []
    with pytest.raises(ValueError, match="page 11 failed"):
        for page in spool:
            received.extend(page.ids())
    assert received == list(range(10))
    assert spool.pages == spool.orders == 10


def test_a_spooled_page_reads_back_as_it_was_written():
    """A spool keeps each page's ids and record lengths beside its records, so reading it back
    parses nothing: the records (UTF-8 and escapes as sent) and the ids of every kind an API
    may send come back as they were, for pages of several records, of none and of one."""
    body = (
        '{"orders":[{"id":1,"name":"Nguy\\u1ec5n"},{"id":"A-2","name":"Trần"},'
        '{"name":"no id"},{"id":123456789012345678901234567890},{"id":{"x":[1]}},7,'
        '{"id":null,"note":"a,b]}"}]}'
    ).encode()
    page, _ = page_body(body, "orders")
    last = page.subset([False] * 6 + [True])
    spool = Spool()
    for written in (page, Page([]), last):
        spool.append(written)
    spool.finish(Fetched())
    read = list(spool)
    assert [p.json() for p in read] == [page.json(), b"[]", last.json()]
    assert page.json().startswith(
        '[{"id":1,"name":"Nguy\\u1ec5n"},{"id":"A-2","name":"Trần"}'.encode()
    )
    assert [p.ids() for p in read] == [
        [1, "A-2", None, 123456789012345678901234567890, {"x": [1]}, None, None],
        [],
        [None],
    ]


def test_a_reader_follows_a_fetch_still_writing_and_closing_the_spool_stops_it():
    fetched: list[int] = []
    closed = threading.Event()

    async def fetch(*args: Any) -> AsyncIterator[Page | Fetched]:
        try:
            for number in range(1000):
                fetched.append(number)
                yield page_of(number)
                await asyncio.sleep(0.01)
            yield Fetched()
        finally:
            closed.set()

    @asynccontextmanager
    async def connect(*args: Any) -> AsyncIterator[Any]:
        yield SimpleNamespace(requests=0)

    platform = SimpleNamespace(fetch=fetch, connect=connect)
    shop = Shop("fake", "fake-shop", "https://shop.example.com", {})
    run = RunOptions(started_at=datetime.now(UTC))
    spool = fetch_in_background(platform, shop, Cursor(), run, None)  # type: ignore[arg-type]
    pages = iter(spool)
    assert [next(pages).ids() for _ in range(2)] == [[0], [1]]
    spool.close()
    assert closed.wait(2)
    assert spool.wait(2) and isinstance(spool.error, Exception)
    assert len(fetched) < 10
