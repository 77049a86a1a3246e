"""Mapping on every core: pages are mapped to arrow tables by a pool of worker processes, shared
by all shops of a run, while the loading process fetches pages and writes what comes back."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from pipelines.paging import Page
from transforms.page import MappedBatch, OrderMapper, map_batch

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
        self.workers = workers or _usable_cores()
        self._preload = sorted({"transforms.page", *preload})
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
        """Stop the workers (their memory is not needed while loading)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(self._preload)
                self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
            return self._executor

    def map(self, job: MappingJob, pages: Iterable[Page]) -> Iterator[tuple[MappedBatch, int]]:
        """Each chunk of about CHUNK_ORDERS orders mapped, in page order, with its page count."""
        pending: deque[tuple[Future[MappedBatch], int]] = deque()
        chunk: list[bytes] = []
        orders = 0
        try:
            for page in pages:
                chunk.append(page.json())
                orders += len(page)
                if orders < CHUNK_ORDERS:
                    continue
                pending.append((self._pool().submit(job.run, chunk), len(chunk)))
                chunk, orders = [], 0
                while pending and (
                    pending[0][0].done() or len(pending) >= self.workers * TASKS_PER_WORKER
                ):
                    future, count = pending.popleft()
                    yield future.result(), count
            if chunk and self._executor is None:
                yield job.run(chunk), len(chunk)  # too little to be worth starting the workers
            elif chunk:
                pending.append((self._pool().submit(job.run, chunk), len(chunk)))
            while pending:
                future, count = pending.popleft()
                yield future.result(), count
        finally:
            for future, _ in pending:
                future.cancel()


def _usable_cores() -> int:
    """The cores this process may run on (every core where the system cannot say, as on macOS)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
