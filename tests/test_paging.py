"""Pages fetched ahead in a thread arrive in order, errors arrive after the pages before them,
and stopping early stops the fetching."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pipelines.paging import prefetched


def test_pages_arrive_in_order_and_an_error_after_the_pages_before_it():
    def pages() -> Iterator[int]:
        yield from range(10)
        raise ValueError("page 11 failed")

    received = []
    with pytest.raises(ValueError, match="page 11 failed"):
        for page in prefetched(pages(), depth=2):
            received.append(page)
    assert received == list(range(10))


def test_closing_early_stops_the_fetching_thread():
    fetched = []
    closed = threading.Event()

    def pages() -> Iterator[int]:
        try:
            for number in range(1000):
                fetched.append(number)
                yield number
        finally:
            closed.set()

    stream = prefetched(pages(), depth=3)
    assert [next(stream) for _ in range(2)] == [0, 1]
    stream.close()
    assert closed.wait(2)
    time.sleep(0.05)
    assert len(fetched) <= 2 + 3 + 1  # read at most `depth` (and one in hand) ahead
    assert not any(t.name == "shopduck-fetch" and t.is_alive() for t in threading.enumerate())
