"""Mapping on every core: pages are mapped to arrow tables by a pool of worker processes, shared
by all shops of a run, while the loading process fetches pages and writes what comes back."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import forkserver
from types import TracebackType
from typing import TYPE_CHECKING

from pipelines.lean import do_without_unused_libraries
from transforms.batch import MappedBatch, OrderMapper, map_batch

if TYPE_CHECKING:  # a worker never imports the fetching side (httpx: 0.18 s of each worker)
    from pipelines.paging import Page

CHUNK_ORDERS = 500  # orders in one task for a worker
TASKS_PER_WORKER = 2  # tasks queued per worker, so none waits for the next chunk


@dataclass(frozen=True)
class MappingJob:
    """What a shop's pages are mapped with."""

    mapper: OrderMapper
    platform: str
    shop: str
    seen_at: datetime
    reset: bool

    def run(self, pages: list[bytes]) -> MappedBatch:
        """The pages mapped (in whichever process this runs)."""
        return map_batch(self.mapper, self.platform, self.shop, pages, self.seen_at, self.reset)


class MappingPool:
    """Worker processes (one per core) started from a fork server that has the mapping modules
    already imported. The pool starts with the first full chunk, so a small incremental run
    maps in this process and never pays for it."""

    def __init__(self, preload: Iterable[str] = (), workers: int | None = None) -> None:
        self.workers = workers or usable_cores()
        # imported once, by the fork server: each worker has them as it starts
        self._preload = sorted({__name__, "transforms.batch", *preload})
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> MappingPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers, and the fork server once no pool has workers (see `FORK_SERVER`):
        their memory is not needed while loading."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
                FORK_SERVER.workers_stopped()
            else:
                FORK_SERVER.stop_if_unused()  # started by `start_server` alone

    def start_server(self) -> None:
        """Start the fork server now, from the main thread, ignoring Ctrl-C. Ctrl-C reaches
        the whole process group, and the server would otherwise print a traceback when it
        arrives while the server imports the mapping modules (it ignores Ctrl-C only once they
        are imported); the loading process handles it (see `pipelines.cli.interrupted`). An
        ignored signal stays ignored in the process started. Outside the main thread (an
        orchestrator's worker) signals cannot be set: the server then starts with the first
        chunk, as for a source used on its own."""
        if threading.current_thread() is not threading.main_thread():
            return
        multiprocessing.get_context("forkserver").set_forkserver_preload(self._preload)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            FORK_SERVER.start()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(self._preload)
                FORK_SERVER.workers_started()
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=_prepare_worker
                )
            return self._executor

    def map(self, job: MappingJob, pages: Iterable[Page]) -> Iterator[tuple[MappedBatch, int]]:
        """Each chunk of about CHUNK_ORDERS orders mapped, in page order, with its page count.
        A chunk never holds two copies of one order (an API may serve an order again): a
        repeat starts the next chunk, so copies can be told apart and one kept downstream."""
        pending: deque[tuple[Future[MappedBatch], int]] = deque()
        chunks = UniqueChunks()
        try:
            for page in pages:
                for chunk in chunks.add(page):
                    pending.append((self._pool().submit(job.run, chunk), len(chunk)))
                    while pending and (
                        pending[0][0].done() or len(pending) >= self.workers * TASKS_PER_WORKER
                    ):
                        future, count = pending.popleft()
                        yield future.result(), count
            last = chunks.rest()
            if last and self._executor is None:
                yield job.run(last), len(last)  # too little to be worth starting the workers
            elif last:
                pending.append((self._pool().submit(job.run, last), len(last)))
            while pending:
                future, count = pending.popleft()
                yield future.result(), count
        finally:
            for future, _ in pending:
                future.cancel()


class UniqueChunks:
    """Groups pages into chunks of at least CHUNK_ORDERS orders (as compact JSON lists), none
    holding two records with the same id."""

    def __init__(self) -> None:
        self._pages: list[bytes] = []
        self._ids: set[str] = set()
        self._orders = 0

    def add(self, page: Page) -> Iterator[list[bytes]]:
        """The chunks completed by adding `page`."""
        while page:
            keys = [_key(record_id) for record_id in page.ids()]
            fits, seen = [], set(self._ids)
            for key in keys:
                fits.append(key is None or key not in seen)
                seen.add(key)
            if all(fits):
                self._take(page, keys)
                break
            taken = page.subset(fits)
            if taken:
                self._take(taken, [key for key, fit in zip(keys, fits, strict=True) if fit])
            yield self._flush()
            page = page.subset(not fit for fit in fits)
        if self._orders >= CHUNK_ORDERS:
            yield self._flush()

    def rest(self) -> list[bytes]:
        """What is left once the pages end."""
        return self._flush()

    def _take(self, page: Page, keys: list[str | None]) -> None:
        self._pages.append(page.json())
        self._ids.update(key for key in keys if key is not None)
        self._orders += len(page)

    def _flush(self) -> list[bytes]:
        chunk, self._pages, self._ids, self._orders = self._pages, [], set(), 0
        return chunk


def _key(record_id: object) -> str | None:
    """How a record's id is stored (ids are text in the warehouse); None for no usable id."""
    if isinstance(record_id, bool) or not isinstance(record_id, int | str):
        return None
    return str(record_id)


def _prepare_worker() -> None:
    """Workers ignore Ctrl-C (sent to the whole process group): the loading process stops
    them (see `pipelines.cli.interrupted`), and they print no traceback of their own. They
    build arrow tables from lists, never from data frames: they do without pandas (see
    `pipelines.lean`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    do_without_unused_libraries()


class ForkServer:
    """multiprocessing's fork server as the mapping pools of a process share it. Once the
    mapping is done it is idle (30-50 MB, through the load step where a backfill's memory
    peaks), so it is stopped when no pool has workers left, if a pool started it: it reports
    the exits of the processes it forked, so it must outlive every pool's workers, and a
    server something else started is left to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False  # by a pool, and still running
        self._pools = 0  # pools with workers

    # Each step holds the lock throughout: a pool's workers are counted as the server is
    # started for them, and the count falls as the server is stopped, so that no pool can
    # start its workers between another's last check and the stop.

    def start(self) -> None:
        """Start the server unless it runs."""
        with self._lock:
            self._start()

    def workers_started(self) -> None:
        """A pool is starting its workers: the server runs until they have stopped."""
        with self._lock:
            self._start()
            self._pools += 1

    def workers_stopped(self) -> None:
        """A pool's workers have stopped (and exited); the server too, if it is unused."""
        with self._lock:
            self._pools -= 1
            self._stop_if_unused()

    def stop_if_unused(self) -> None:
        """Stop the server if a pool started it and no pool has workers."""
        with self._lock:
            self._stop_if_unused()

    def _start(self) -> None:
        self._started |= not fork_server_running()
        forkserver.ensure_running()

    def _stop_if_unused(self) -> None:
        if self._started and not self._pools:
            stop_fork_server()
            self._started = False


FORK_SERVER = ForkServer()


def fork_server_running() -> bool:
    """Whether this process has started multiprocessing's fork server (and not stopped it)."""
    return getattr(forkserver._forkserver, "_forkserver_pid", None) is not None


def stop_fork_server() -> None:
    """Stop multiprocessing's fork server, once no process it forked runs (it reports their
    exit codes). multiprocessing has no public way: this is what its own tests do; a Python
    without it keeps the server until the process exits, as before."""
    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


def usable_cores() -> int:
    """The cores this process may run on (every core where the system cannot say, as on macOS)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
