"""The ways the five APIs page, as asynchronous generators of `Page`s (one per response)."""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from functools import partial
from typing import Any, TypeVar

import msgspec

from pipelines.http import ApiClient, ApiError, UnexpectedBody

log = logging.getLogger("shopduck.fetch")
T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)


class Head(msgspec.Struct):
    """The part of a record that paging reads."""

    id: Any = None


class Page:
    """One response's records as compact JSON text. Only what paging needs is decoded here (ids,
    a few dates); the mapping workers decode whole records, so the loading process never
    builds Python objects for every field of every order."""

    def __init__(self, records: list[msgspec.Raw]) -> None:
        self.records = records
        self._ids: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.records)

    def fields(self, kind: type[S]) -> list[S | None]:
        """Each record decoded as the struct `kind`, which names the fields wanted (others are
        skipped unread); None for a record that is not an object."""
        try:
            return msgspec.json.decode(self.json(), type=list[kind])
        except msgspec.ValidationError:  # some record is not an object: decode one by one
            return [_decoded_or_none(record, kind) for record in self.records]

    def ids(self) -> list[Any]:
        """Each record's `id` as sent (None where it has none); decoded once."""
        if self._ids is None:
            self._ids = [head.id if head is not None else None for head in self.fields(Head)]
        return self._ids

    def subset(self, keep: Iterable[bool]) -> Page:
        """The records for which `keep` is true."""
        return Page([record for record, wanted in zip(self.records, keep, strict=True) if wanted])

    def json(self) -> bytes:
        """The records as a compact JSON list."""
        return b"[" + b",".join(self.records) + b"]"

    def spooled(self) -> bytes:
        """The page as a spool keeps it: its ids and the length of each record, then the
        records. Read back (`unspooled`), nothing is parsed again: splitting a page of 250
        Haravan orders into records and decoding their ids took 3 ms."""
        head = pickle.dumps((self.ids(), [len(record) for record in self.records]))
        return len(head).to_bytes(4, "little") + head + b"".join(self.records)

    @classmethod
    def unspooled(cls, data: bytes) -> Page:
        """The page whose `spooled()` this is."""
        size = int.from_bytes(data[:4], "little")
        ids, lengths = pickle.loads(data[4 : 4 + size])
        view, start, records = memoryview(data), 4 + size, []
        for length in lengths:
            records.append(msgspec.Raw(view[start : start + length]))
            start += length
        page = cls(records)
        page._ids = ids
        return page


def _decoded_or_none(record: msgspec.Raw, kind: type[S]) -> S | None:
    try:
        return msgspec.json.decode(record, type=kind)
    except msgspec.ValidationError:
        return None


_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RECORDS = msgspec.json.Decoder(list[msgspec.Raw])


def page_body(body: bytes, envelope: str) -> tuple[Page, dict[str, Any]]:
    """A response body split into the page of records under `envelope` (whitespace between
    tokens removed, nothing else decoded) and its other members, decoded (paging links and
    counts)."""
    try:  # msgspec checks the JSON's structure but not the bytes inside strings
        if not body.isascii():  # ASCII (APIs that escape the rest) is UTF-8; 1.6 ms a page less
            body.decode()
    except UnicodeDecodeError as error:
        raise UnexpectedBody(
            f"response is not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        members = _MEMBERS.decode(msgspec.json.format(body, indent=-1))
        records = _RECORDS.decode(members.pop(envelope))
    except (msgspec.ValidationError, KeyError):
        raise UnexpectedBody(f"response has no {envelope!r} list") from None
    return Page(records), {name: msgspec.json.decode(value) for name, value in members.items()}


def record_ids(page: Page) -> list[int]:
    """The integer ids of a page; a record with a missing or malformed id is skipped here (it
    is quarantined when mapped) so that it cannot stop the paging."""
    ids = []
    for value in page.ids():
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


async def keyset_pages(
    client: ApiClient,
    path: str,
    params: Mapping[str, Any],
    *,
    envelope: str,
    id_param: str,
    inclusive: bool = False,
    after_id: int | None = None,
    is_last: Callable[[Any], bool] | None = None,
) -> AsyncIterator[Page]:
    """Pages of records with ascending ids, each request asking for ids after the last one seen.

    `id_param` is `since_id` (ids greater than; `inclusive=False`) or an `id` filter meaning
    "greater or equal" (`inclusive=True`). Keyset paging never skips a record when others are
    deleted or updated while it runs, unlike page numbers. Stops only on an empty page or when
    `is_last(rest)` says so (`rest`: the response's members other than the records, such as
    paging links): never on a page shorter than the `limit` asked for, since APIs serve fewer
    records than asked (caps differ by plan and documents state none).
    """
    last = after_id
    while True:
        query = dict(params)
        if last is not None:
            query[id_param] = last + 1 if inclusive else last
        page, rest = await client.get(path, query, partial(page_body, envelope=envelope))
        if not page:
            return
        yield page
        if is_last is not None and is_last(rest):
            return
        highest = max(record_ids(page), default=None)
        if highest is None:
            # No record has a usable id, so no request can ask for the records after them; they
            # are quarantined when mapped. Asking again would only repeat this page forever.
            log.warning(
                "%s: GET %s served a page without a usable id: paging stops there; "
                "`shopduck load --reconcile` finds what follows",
                client.shop,
                path,
            )
            return
        if last is not None and highest <= last:
            raise ApiError(
                f"{client.shop}: GET {path} with {id_param}={query[id_param]} served no record "
                f"after id {last}: the API ignores {id_param}, so paging cannot advance"
            )
        last = highest


async def offset_pages(
    client: ApiClient,
    path: str,
    params: Mapping[str, Any],
    *,
    envelope: str,
    page_size: int,
    is_last: Callable[[Any], bool],
    overlap: int = 5,
) -> AsyncIterator[Page]:
    """Pages fetched with `start`/`limit` offsets, asking for `page_size` records, until an
    empty page or until `is_last(rest)` says so (`rest`: see `keyset_pages`). The next offset
    follows the records actually served, whatever `limit` asked for.

    Offsets shift when a record already read is deleted, which would skip the record that slides
    back across a page boundary; each page therefore starts `overlap` records before the end of
    the previous one, and records already yielded in this run, unchanged, are dropped (a changed
    copy is kept: the load keeps the newer one; a record without an id cannot be recognised and
    is always kept: mapping quarantines it). Records are remembered by digest, so the memory
    this takes is a few bytes an order, not the orders.
    """
    start, previous = 0, None
    seen: dict[str | None, bytes] = {}
    while True:
        query = {**params, "start": start, "limit": page_size}
        page, rest = await client.get(path, query, partial(page_body, envelope=envelope))
        if not page:
            return
        ids = [None if record_id is None else repr(record_id) for record_id in page.ids()]
        if ids == previous and any(ids):
            raise ApiError(
                f"{client.shop}: GET {path} with start={start} served the same records as the "
                f"page before: the API ignores start, so paging cannot advance"
            )
        digests = [_digest(record) for record in page.records]
        fresh = [
            record_id is None or seen.get(record_id) != digest
            for record_id, digest in zip(ids, digests, strict=True)
        ]
        seen.update(zip(ids, digests, strict=True))
        if any(fresh):
            yield page.subset(fresh)
        if is_last(rest):
            return
        previous = ids
        start += max(1, len(page) - overlap)


def _digest(record: msgspec.Raw) -> bytes:
    return hashlib.blake2b(record, digest_size=16).digest()
