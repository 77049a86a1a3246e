"""A loading process made lean (a load, a replay, a mapping worker).

Libraries (or modules) it never uses are made unimportable there, so that the libraries that
would import them only to ask a question take them as absent, as where they are not installed:
- pandas: pyarrow (on its first array built from a list) and DuckDB import it only to ask
  whether some object is a data frame: 50 MB of each process and half a second of its CPU.
- SQLAlchemy: dlt imports it only to write a connection string into a load's summary (it has
  its own URL class where SQLAlchemy is absent): 12 MB and 0.14 s of the loading process.
- httpx's command-line client (`httpx._main`), which httpx imports with click, rich and
  pygments where they are installed: 5 MB and 0.07 s of every loading process. (Not click
  itself: dlt imports it to build the error of a failed step, which then said "No module named
  'click'" instead of its cause.)

And its threads share two malloc arenas. glibc gives each thread that allocates while others
do an arena of its own (up to 8 a core) and keeps in it what is freed there, for that thread's
next allocation: a load's threads (fetching, extractions, loads, DuckDB's and pyarrow's) held
55-70 MB more at 20 and 50 shops than with two arenas, measured. They take turns at the GIL, so
they rarely wait for each other's arena.
"""

from __future__ import annotations

import ctypes
import importlib.abc
import os
import sys

UNUSED_LIBRARIES = frozenset({"pandas", "sqlalchemy", "httpx._main"})
M_ARENA_MAX = -8  # mallopt's parameter number for the arena limit (glibc's malloc.h)


def do_without_unused_libraries() -> None:
    """From now on, importing one of UNUSED_LIBRARIES fails in this process (unless it is
    imported already)."""
    unused = UNUSED_LIBRARIES - sys.modules.keys()
    if unused and not any(isinstance(finder, _Unimportable) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Unimportable(unused))


class _Unimportable(importlib.abc.MetaPathFinder):
    """Fails the import of these packages or modules (and of what is inside them) as where
    they are not installed."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        parts = name.split(".")
        if any(".".join(parts[:depth]) in self.names for depth in range(1, len(parts) + 1)):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def use_two_malloc_arenas() -> None:
    """As `MALLOC_ARENA_MAX=2` would, from now on (threads started before keep their arena).
    Nothing where the C library is not glibc, or where MALLOC_ARENA_MAX is set already."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl)
        return
    libc.mallopt(M_ARENA_MAX, 2)
