"""Fetching decoupled from loading. Every shop of a run is fetched by one event loop; each page
goes to its shop's spool, a file on disk, as it arrives, and is read back by the shop's
extraction (dlt), possibly while the fetch still appends. So a shop waiting for its rate limit
holds no thread, and the pages a run holds in memory do not grow with the number of shops or
their size (the responses being read at once are bounded by the clients' shared `in_flight`)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import aclosing, closing
from pathlib import Path
from types import TracebackType

from pipelines.paging import Page
from pipelines.platform import Fetched, Platform
from pipelines.shop import RunOptions, Shop
from pipelines.windows import Cursor

LENGTH = 8  # bytes of the length before each page
# Responses read at once across a run, whatever the number of shops: what bounds the pages a
# run holds in memory. Enough to keep dozens of rate-limited shops at their limits (a shop
# waiting for its pace holds no place).
PAGES_IN_FLIGHT = 16


class SpoolClosed(Exception):
    """The spool's reader has gone: the fetch has nobody to fetch for."""


class Spool:
    """One shop's fetched pages, on disk in an unnamed temporary file (gone when closed or when
    the process ends, however it ends). Appended to by the fetching event loop, read by an
    extraction thread; `finish` or `fail` ends it.

    `on_ready` is called (in the fetching thread) when the spool is worth reading: as soon as
    it holds `read_early` orders, so that a large backfill is mapped and loaded while it is
    still being fetched, and when the fetch ends; once for each at most."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        on_ready: Callable[[], None] | None = None,
        read_early: int | None = None,
    ) -> None:
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115  (closed by `close`)
        self._changed = threading.Condition()
        self._on_ready = on_ready
        self._read_early = read_early  # None once called for it
        self._size = 0
        self.pages = 0
        self.orders = 0
        self.requests = 0
        self.fetched: Fetched | None = None  # set by `finish`
        self.error: BaseException | None = None  # set by `fail`
        self.closed = False

    @property
    def done(self) -> bool:
        """Whether the fetch has ended, well or not."""
        return self.fetched is not None or self.error is not None

    def append(self, page: Page) -> None:
        """Write a page at the end (from the fetching thread)."""
        data = page.spooled()
        with self._changed:
            if self.closed:
                raise SpoolClosed
            os.pwrite(self._file.fileno(), len(data).to_bytes(LENGTH, "little") + data, self._size)
            self._size += LENGTH + len(data)
            self.pages += 1
            self.orders += len(page)
            self._changed.notify_all()
        if self._read_early is not None and self.orders >= self._read_early:
            self._read_early = None
            if self._on_ready is not None:
                self._on_ready()

    def finish(self, fetched: Fetched) -> None:
        """The last page is written; `fetched` is what the fetch learned."""
        with self._changed:
            self.fetched = fetched
            self._changed.notify_all()
        self._ready()

    def fail(self, error: BaseException) -> None:
        """The fetch failed: a reader raises `error` after the pages written before it."""
        with self._changed:
            self.error = error
            self._changed.notify_all()
        self._ready()

    def _ready(self) -> None:
        """The fetch has ended: the last call of `on_ready`."""
        ready, self._on_ready = self._on_ready, None
        if ready is not None:
            ready()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the fetch ends (at most `timeout` seconds); whether it has."""
        with self._changed:
            return self._changed.wait_for(lambda: self.done, timeout)

    def __iter__(self) -> Iterator[Page]:
        """The pages in the order fetched, waiting for the fetch to write more until it ends;
        raises the fetch's error, if it failed, after the pages before it."""
        offset = 0
        while True:
            with self._changed:
                while offset >= self._size and not self.done:
                    self._changed.wait()
                if offset >= self._size:
                    if self.error is not None:
                        raise self.error
                    return
            length = int.from_bytes(os.pread(self._file.fileno(), LENGTH, offset), "little")
            data = os.pread(self._file.fileno(), length, offset + LENGTH)
            offset += LENGTH + length
            yield Page.unspooled(data)

    def close(self) -> None:
        """Drop the pages; a fetch still writing stops at its next page."""
        with self._changed:
            self.closed = True
            self._file.close()


async def fetch_into(
    spool: Spool,
    platform: Platform,
    shop: Shop,
    cursor: Cursor,
    run: RunOptions,
    *,
    ids: Sequence[str] | None = None,
    in_flight: asyncio.Semaphore | None = None,
) -> None:
    """Fetch a shop's pages into its spool: those the cursor's run needs, or just the orders
    `ids` (reconciliation). A failure ends the spool (`Spool.fail`); nothing is raised here,
    so one shop's failure costs the others of the loop nothing."""
    fetched = Fetched()
    try:
        async with platform.connect(shop, run.retry, in_flight) as client:
            items = (
                platform.fetch(client, shop, cursor, run)
                if ids is None
                else platform.fetch_ids(client, shop, ids)
            )
            try:
                async with aclosing(items):
                    async for item in items:
                        if isinstance(item, Fetched):
                            fetched = item
                        else:
                            spool.append(item)
                        spool.requests = client.requests
            finally:
                spool.requests = client.requests
    except SpoolClosed:
        spool.fail(SpoolClosed("the spool was closed before the fetch ended"))
    except Exception as error:
        spool.fail(error)
    else:
        spool.finish(fetched)


def read_into(spool: Spool, pages: Generator[Page, None, None]) -> None:
    """Write pages read from elsewhere (a replay's, from the warehouse) into a spool, as
    `fetch_into` writes fetched ones: a failure ends the spool, nothing is raised."""
    try:
        with closing(pages):
            for page in pages:
                spool.append(page)
    except SpoolClosed:
        spool.fail(SpoolClosed("the spool was closed before the reading ended"))
    except Exception as error:
        spool.fail(error)
    else:
        spool.finish(Fetched())


def fetch_in_background(
    platform: Platform, shop: Shop, cursor: Cursor, run: RunOptions, ids: Sequence[str] | None
) -> Spool:
    """A spool being filled by a thread of its own running `fetch_into`: for a source used on
    its own, outside `shopduck load`'s event loop."""
    spool = Spool()
    thread = threading.Thread(
        target=asyncio.run,
        args=(fetch_into(spool, platform, shop, cursor, run, ids=ids),),
        name="shopduck-fetch",
        daemon=True,
    )
    thread.start()
    return spool


class FetchLoop:
    """One event loop, in a thread of its own, fetching every shop of a run at once into their
    spools; the responses being read at once are bounded by PAGES_IN_FLIGHT across all of
    them. Leaving it cancels the fetches still running."""

    def __init__(self, pages_in_flight: int = PAGES_IN_FLIGHT) -> None:
        self._loop = asyncio.new_event_loop()
        self._in_flight = asyncio.Semaphore(pages_in_flight)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="shopduck-fetch", daemon=True
        )

    def __enter__(self) -> FetchLoop:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(_cancel_tasks(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def fetch(
        self,
        spool: Spool,
        platform: Platform,
        shop: Shop,
        cursor: Cursor,
        run: RunOptions,
        ids: Sequence[str] | None = None,
    ) -> None:
        """Start fetching a shop into `spool` (see `fetch_into`)."""
        coroutine = fetch_into(
            spool, platform, shop, cursor, run, ids=ids, in_flight=self._in_flight
        )
        asyncio.run_coroutine_threadsafe(coroutine, self._loop)


async def _cancel_tasks() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
