"""Opening the DuckDB warehouse file, telling a file held by another process (wait and retry)
from a file that is no DuckDB database at all (say so at once, with DuckDB's own reason)."""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

from pipelines.errors import ShopduckError

# The storage format new warehouse files are written in: the oldest that keeps what shopduck
# needs (zstd for the JSON payloads), so that every DuckDB from 1.2 on opens the file: the
# DuckDB CLI from PyPI, BI tools and drivers pinned to older versions.
STORAGE_VERSION = "v1.2.0"


class WarehouseLocked(ShopduckError):
    """Another process holds the warehouse file."""


class NotAWarehouse(ShopduckError):
    """The file exists but DuckDB cannot open it as a database."""


def open_duckdb(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file; `WarehouseLocked` when another process holds it,
    `NotAWarehouse` when the file is corrupt, empty or of another program."""
    config = {} if path.exists() else {"storage_compatibility_version": STORAGE_VERSION}
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        reason = str(error).strip().splitlines()[0]
        if "lock" in reason.lower() or isinstance(error, duckdb.ConnectionException):
            raise WarehouseLocked(f"{path} is held by another process: {reason}") from None
        raise NotAWarehouse(
            f"{path} is not a DuckDB warehouse that DuckDB {duckdb.__version__} can open "
            f"({reason}); move it away or choose another --warehouse"
        ) from None
    except duckdb.Error as error:  # a file of a newer DuckDB, or damaged past the header
        reason = str(error).strip().splitlines()[0]
        raise NotAWarehouse(
            f"{path} is not a DuckDB warehouse that DuckDB {duckdb.__version__} can open "
            f"({reason}); move it away or choose another --warehouse"
        ) from None


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension (e.g. `postgres_scanner`) from its PyPI package
    (`duckdb-extension-<name>`, built for this DuckDB release), so no download from DuckDB's
    extension site is needed; fall back to DuckDB's own `INSTALL` where the package is absent."""
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        con.install_extension(name)
    else:
        folder = Path(next(iter(package.__path__))) / "extensions" / f"v{duckdb.__version__}"
        files = sorted(folder.glob(f"{name}.duckdb_extension"))
        if not files:
            raise ShopduckError(
                f"duckdb-extension-{name} is not built for DuckDB {duckdb.__version__}: "
                f"install the version matching DuckDB ({duckdb.__version__})"
            )
        con.install_extension(str(files[0]))
    con.load_extension(name)
