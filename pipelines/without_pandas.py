"""pandas made unimportable in a process that never builds a data frame (a loading process, a
mapping worker). pyarrow, on its first array built from a list, and DuckDB import pandas all
the same, only to ask whether some object is a data frame: 50 MB of each process's memory and
half a second of its CPU. Where pandas cannot be imported, both take it as absent, as where it
is not installed."""

from __future__ import annotations

import importlib.abc
import sys


def do_without_pandas() -> None:
    """From now on, `import pandas` fails in this process (unless it is imported already)."""
    if "pandas" not in sys.modules and not any(
        isinstance(finder, _WithoutPandas) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _WithoutPandas())


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Fails `import pandas` as where it is not installed."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
