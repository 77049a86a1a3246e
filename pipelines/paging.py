"""The ways the five APIs page, as generators of record lists (one list per response)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from queue import Full, Queue
from typing import Any, TypeVar

from pipelines.http import ApiClient, ApiError

Page = list[dict[str, Any]]
T = TypeVar("T")


def _records(body: Any, envelope: str, client: ApiClient) -> Page:
    records = body.get(envelope) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise ApiError(f"{client.shop}: response has no {envelope!r} list")
    return records


def record_ids(records: Page) -> list[int]:
    """The integer ids of a page; a record with a missing or malformed id is skipped here (it
    is quarantined when mapped) so that it cannot stop the paging."""
    ids = []
    for record in records:
        try:
            ids.append(int(record["id"]))
        except (KeyError, TypeError, ValueError):
            continue
    return ids


def keyset_pages(
    client: ApiClient,
    path: str,
    params: Mapping[str, Any],
    *,
    envelope: str,
    id_param: str,
    inclusive: bool = False,
    after_id: int | None = None,
    page_size: int | None = None,
    is_last: Callable[[Any], bool] | None = None,
) -> Iterator[Page]:
    """Pages of records with ascending ids, each request asking for ids after the last one seen.

    `id_param` is `since_id` (ids greater than; `inclusive=False`) or an `id` filter meaning
    "greater or equal" (`inclusive=True`). Keyset paging never skips a record when others are
    deleted or updated while it runs, unlike page numbers. Stops on an empty page, a page
    shorter than `page_size` (when the server honours one), or when `is_last(body)` says so.
    """
    last = after_id
    while True:
        query = dict(params)
        if last is not None:
            query[id_param] = last + 1 if inclusive else last
        body = client.get(path, query)
        records = _records(body, envelope, client)
        if not records:
            return
        yield records
        last = max([last or 0, *record_ids(records)])
        if (page_size is not None and len(records) < page_size) or (is_last and is_last(body)):
            return


def offset_pages(
    client: ApiClient,
    path: str,
    params: Mapping[str, Any],
    *,
    envelope: str,
    page_size: int,
    has_next: Callable[[Any], bool],
    overlap: int = 5,
) -> Iterator[Page]:
    """Pages fetched with `start`/`limit` offsets until `has_next(body)` is false.

    Offsets shift when a record already read is deleted, which would skip the record that slides
    back across a page boundary; each page therefore starts `overlap` records before the end of
    the previous one, and records already yielded in this run are dropped.
    """
    start, seen = 0, set()
    while True:
        body = client.get(path, {**params, "start": start, "limit": page_size})
        records = _records(body, envelope, client)
        fresh = [r for r in records if r.get("id") not in seen]
        seen.update(r.get("id") for r in fresh)
        if fresh:
            yield fresh
        if not records or not has_next(body):
            return
        start += max(1, len(records) - overlap)


def prefetched(pages: Iterator[T], depth: int = 4) -> Iterator[T]:
    """`pages`, read by a background thread up to `depth` items ahead, so that waiting for the
    API (and its rate limit) overlaps with mapping and loading. An error in the thread is raised
    here, after the items before it; closing this generator stops the thread."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stopped = threading.Event()

    def offer(item: tuple[bool, Any]) -> bool:
        while not stopped.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not offer((False, page)):
                    return
            offer((True, None))
        except BaseException as error:  # handed to the consumer, raised there
            offer((True, error))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="shopduck-fetch", daemon=True)
    thread.start()
    try:
        while True:
            done, item = queue.get()
            if done:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stopped.set()
        thread.join()
