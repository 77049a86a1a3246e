"""The warehouse seam: `Warehouse`, with a DuckDB file and a PostgreSQL database behind it
(the dlt destination, connections through `pipelines.sql`, locks, local pipeline folders), and
opening the DuckDB file, telling a file held by another process (wait and retry) from a file
that is no DuckDB database at all (say so at once, with DuckDB's own reason)."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import importlib
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar, NamedTuple, TypeVar
from urllib.parse import urlsplit

import dlt
import duckdb
import psycopg2
import psycopg2.extensions
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.destination import Destination, DestinationCapabilitiesContext
from dlt.common.destination.client import DestinationClientConfiguration
from dlt.common.normalizers.naming import NamingConvention
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from pipelines.errors import ShopduckError, one_line
from pipelines.settings import DATASET, DEFAULT_WAREHOUSE
from pipelines.sql import Database, DuckDBDatabase, PostgresDatabase, lock_key

log = logging.getLogger("shopduck")
T = TypeVar("T")

# The storage format new warehouse files are written in: the oldest that keeps what shopduck
# needs (zstd for the JSON payloads), so that every DuckDB from 1.2 on opens the file: the
# DuckDB CLI from PyPI, BI tools and drivers pinned to older versions.
STORAGE_VERSION = "v1.2.0"


class WarehouseLocked(ShopduckError):
    """Another process holds the warehouse file."""


class NotAWarehouse(ShopduckError):
    """The file exists but DuckDB cannot open it as a database."""


class WarehouseBusy(ShopduckError):
    """Another load holds the warehouse."""


class WarehouseUnavailable(ShopduckError):
    """The warehouse cannot be opened for reading."""


# DuckDB takes 80 % of RAM by default; loads spill to disk beyond this limit instead. Its buffer
# pool also keeps what it read up to the limit, across the loads of a run: 50 small shops
# peaked 130 MB higher at 256MB. What must fit is the parquet row group being read, 2,048 rows
# at a time (40 MB of payloads in one row group failed at 128MB; in row groups of 2 MB, 160 MB
# loaded in one job), so payloads are written in row groups of 2 MB (`pipelines.batches`). A
# loading command runs all its queries under it, the models' rebuild too (they spill as well:
# five platforms of 50,000 orders each rebuild within it); where one still runs out, raise it:
# `[shopduck] duckdb_memory_limit` (SHOPDUCK__DUCKDB_MEMORY_LIMIT).
DUCKDB_MEMORY_LIMIT = "128MB"
LARGE_PACKAGE_BYTES = 8_000_000  # compressed: some 10,000 Haravan orders with their payloads
DLT_LOAD_WORKERS = 20  # dlt's default

# The order payloads are most of the warehouse. Compressed with zstd they take a sixth of the
# space DuckDB's default string compression takes, and load faster (50,000 Haravan orders:
# 10 MB instead of 67 MB, 0.5 s instead of 2.2 s to write). dlt creates only the tables and
# columns that are missing, so this table is created first, with the columns dlt would create.
# (On Postgres dlt creates it, the payload as jsonb.)
RAW_ORDERS_DDL = f"""
create table if not exists {DATASET}.raw_orders (
    platform varchar not null, shop varchar not null, order_id varchar not null,
    updated_at timestamptz, payload json using compression zstd
)"""


def _loads_memory_limit() -> str:
    return str(dlt.config.get("shopduck.duckdb_memory_limit") or DUCKDB_MEMORY_LIMIT)


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


# --- the warehouse seam -------------------------------------------------------------------------
# Everything that differs between an embedded DuckDB file and a shared PostgreSQL database sits
# behind `Warehouse`; the runner, the models, status, report and reconciliation call only this.

# The staging dataset of a concurrent writer (`%s` is the dataset). dlt's default, one
# `commerce_staging` for everyone, is shared by every process merging into Postgres at once, and
# concurrent merges then read each other's staged rows: 80,000 orders came out as 115,000, with
# shops missing or stale. Per shop is enough, and stable, because a shop is loaded by one process
# at a time (the shop lock). DuckDB has one writer, so its staging dataset stays the default.
STAGING_LAYOUT = "%s_staging_{slug}"
# Advisory lock names: changes to the commerce schema (dlt's migrations and shopduck's own
# tables) are serialized, as concurrent `create table` of the same table fails in Postgres.
SCHEMA_LOCK = "shopduck:schema"
_HELD_GUARD = threading.Lock()


class ShopBusy(ShopduckError):
    """Another process is loading the shop."""


class Warehouse(ABC):
    """Where the commerce tables live, and everything engine-specific about writing there."""

    kind: ClassVar[str]  # "duckdb" or "postgres": the dlt destination and --destination value
    pipelines_dir: Path  # dlt's local pipeline folders (state, packages in flight)

    def load_workers(self, package_bytes: int) -> int:
        """How many of a package's load jobs dlt runs at once."""
        return DLT_LOAD_WORKERS

    def load_error(self, error: BaseException) -> str:
        """A failed load's error as the shop's one line."""
        return one_line(error)

    @abstractmethod
    def describe(self) -> str:
        """The warehouse for messages, never with a password."""

    @abstractmethod
    def destination(self, writer: str) -> Destination:
        """The dlt destination, with the staging dataset of `writer` (a shop's pipeline)."""

    @abstractmethod
    def connect(self, *, read_only: bool = False) -> AbstractContextManager[Database]:
        """A connection behind `pipelines.sql.Database`, closed on exit."""

    @abstractmethod
    def analyst_connection(self) -> duckdb.DuckDBPyConnection:
        """A read-only DuckDB connection in which `commerce.*` and `reporting.*` name the
        warehouse's tables (what the notebooks query)."""

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """The environment variables that make another process (a notebook's kernel) read
        this warehouse."""

    def writer_lock(self, wait: float) -> AbstractContextManager[None]:
        """Held by a whole load: keeps out what must not write at the same time."""
        return nullcontext()

    def kept_open(self) -> AbstractContextManager[None]:
        """Within it, this process opens the warehouse once, for every load and query (a run
        of many shops); outside it, each opens its own connection."""
        return nullcontext()

    @abstractmethod
    def checkpoint(self) -> None:
        """Write what this process has loaded into the warehouse proper (called while the
        run has nothing else to do)."""

    def shop_lock(self, label: str) -> AbstractContextManager[None]:
        """Held while one shop is extracted and loaded; `ShopBusy` if another process has it."""
        return nullcontext()

    @abstractmethod
    def migrate(self, pipeline: dlt.Pipeline) -> None:
        """Bring the warehouse's tables up to `pipeline`'s normalized schema before its load."""

    @abstractmethod
    def prepare(self, db: Database) -> None:
        """Create what must exist before dlt creates the rest (called before every load)."""


class _Kept(NamedTuple):
    """The connection a run keeps open and the dlt destination on it."""

    con: duckdb.DuckDBPyConnection
    destination: Destination


@dataclass(frozen=True)
class DuckDBWarehouse(Warehouse):
    """A DuckDB file: one writer at a time (a file lock), readers when no writer has it."""

    path: Path
    kind: ClassVar[str] = "duckdb"
    # while `kept_open`: the connection every load and query shares, and the destination on it
    _kept: list[_Kept] = field(default_factory=list, repr=False, compare=False)

    def load_workers(self, package_bytes: int) -> int:
        """One job at a time for a large package: DuckDB holds a job's rows in this process's
        memory until it commits, and a job is one file (see settings.DLT_SETTINGS). A small
        package's jobs run one a core: one by one, 50 small shops took 12 s longer to load;
        twenty at once (dlt's default), their loads peaked some 40 MB higher."""
        from pipelines.mapping import usable_cores  # loaded by every load; not by `report`

        return 1 if package_bytes > LARGE_PACKAGE_BYTES else usable_cores()

    @property
    def pipelines_dir(self) -> Path:  # type: ignore[override]
        return self.path.parent / ".shopduck" / self.path.name

    def load_error(self, error: BaseException) -> str:
        """With what to do where DuckDB ran out of the loads' memory: the package waits."""
        line = one_line(error)
        if line.startswith("OutOfMemoryException"):  # DuckDB's, unwrapped from dlt's
            line += (
                "; the package is kept for the next run: if it fails again, raise the loads' "
                "limit ([shopduck] duckdb_memory_limit, SHOPDUCK__DUCKDB_MEMORY_LIMIT)"
            )
        return line

    def describe(self) -> str:
        return str(self.path)

    def destination(self, writer: str) -> Destination:
        return self._kept[0].destination if self._kept else self._destination

    @cached_property
    def _destination(self) -> Destination:
        # One for every shop of a run (the staging dataset is the same for all): making one
        # resolves dlt's configuration anew, a quarter of a second a shop.
        return self._duckdb_destination(str(self.path))

    def _duckdb_destination(self, file: str | duckdb.DuckDBPyConnection) -> Destination:
        # The limit also on the kept connection, which has it already: dlt sets it again each
        # time a load borrows the connection, and DuckDB then returns the memory it freed to
        # the system (without it, 20,000 orders peaked at 408-429 MB against 362-374).
        return capabilities_once(
            dlt.destinations.duckdb(
                DuckDbCredentials(file, global_config={"memory_limit": _loads_memory_limit()})
            )
        )

    @contextmanager
    def kept_open(self) -> Iterator[None]:
        """The file opened once for the whole run: dlt borrows the connection for each shop's
        load (a connection of its own opened the file and checkpointed it on closing, a
        quarter of each small shop's load), and queries run on cursors of it. Re-entrant."""
        if self._kept:
            yield
            return
        with self._open(read_only=False) as con, self._keeping(con):
            yield

    @contextmanager
    def _keeping(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        # The whole command under the loads' limit (dlt sets it again as each load borrows the
        # connection): its own queries too, the models' rebuild and the checks among them.
        con.execute(f"set global memory_limit = '{_loads_memory_limit()}'")
        self._kept.append(_Kept(con, self._duckdb_destination(con)))
        try:
            yield
        finally:
            self._kept.clear()

    def checkpoint(self) -> None:
        """DuckDB's checkpoint while the file is kept open: what the loads wrote to its
        write-ahead log goes into the file now, rather than all at once when the run closes
        it (about a tenth of a second for each small shop loaded)."""
        if not self._kept:
            return
        try:
            self._kept[0].con.execute("checkpoint")
        except duckdb.Error as error:  # not a shop's failure: the file is checkpointed on closing
            log.warning("checkpointing %s failed: %s", self.path, one_line(error))

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[Database]:
        if self._kept:  # this process writes the file: a cursor of its connection reads too
            with self._kept[0].con.cursor() as cursor:
                yield DuckDBDatabase(cursor)
            return
        with self._open(read_only) as con:
            yield DuckDBDatabase(con)

    def analyst_connection(self) -> duckdb.DuckDBPyConnection:
        return self._open(read_only=True)

    def environment(self) -> dict[str, str]:
        return {"SHOPDUCK_WAREHOUSE": str(self.path), "SHOPDUCK__DESTINATION": "duckdb"}

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """The file opened; for reading, a one-line error when it is missing or held."""
        if not read_only:
            return open_duckdb(self.path)
        if not self.path.exists():
            raise WarehouseUnavailable(f"no warehouse at {self.path}: run `shopduck load` first")
        try:
            return open_duckdb(self.path, read_only=True)
        except WarehouseLocked as error:
            raise WarehouseUnavailable(
                f"{self.path} is locked by a running load; try again when it finishes"
            ) from error

    @contextmanager
    def writer_lock(self, wait: float) -> Iterator[None]:
        """The writer lock that keeps two loads apart, and a writable DuckDB file (a notebook
        or `shopduck report` may hold it read-only). Waits at most `wait` seconds for each,
        then fails with one clear line. The file stays open while the lock is held: the
        command's loads and queries share that connection (`kept_open`)."""
        lock_path = self.path.parent / f".{self.path.name}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        with open(lock_path, "w") as handle:
            _wait_until(
                lambda: fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB),
                BlockingIOError,
                deadline,
                f"another shopduck load holds {self.path} (waited {wait:.0f}s)",
            )
            try:
                con = _wait_until(
                    lambda: open_duckdb(self.path),
                    WarehouseLocked,
                    deadline,
                    f"{self.path} is open in another program (a notebook or `shopduck report`?); "
                    f"close it and run the load again",
                )
                with con, self._keeping(con):
                    yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def migrate(self, pipeline: dlt.Pipeline) -> None:
        """Nothing to do: with one writer at a time, the load itself migrates."""

    def prepare(self, db: Database) -> None:
        """The schema, and `raw_orders` compressed with zstd (see RAW_ORDERS_DDL)."""
        db.script(f"create schema if not exists {DATASET}")
        db.script(RAW_ORDERS_DDL)


@dataclass(frozen=True)
class PostgresWarehouse(Warehouse):
    """A PostgreSQL database that any number of loads on any hosts write at once: each shop is
    loaded by one of them at a time (a session advisory lock per shop) and stages its merges in
    a dataset of its own."""

    dsn: str = field(repr=False)  # a libpq URI, password included
    pipelines_dir: Path  # type: ignore[misc]  # this host's dlt pipeline folders
    kind: ClassVar[str] = "postgres"
    # the shops this process holds, and how many times (shop_lock is re-entrant)
    _held: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> str:
        parts = urlsplit(self.dsn)
        return f"postgres://{parts.hostname}:{parts.port or 5432}{parts.path}"

    def destination(self, writer: str) -> Destination:
        return capabilities_once(
            dlt.destinations.postgres(
                credentials=self.dsn,
                staging_dataset_name_layout=STAGING_LAYOUT.format(slug=_identifier(writer)),
            )
        )

    def _open(self) -> psycopg2.extensions.connection:
        try:
            con = psycopg2.connect(self.dsn)
        except psycopg2.OperationalError as error:
            reason = str(error).strip().splitlines()[0]
            raise WarehouseUnavailable(f"cannot connect to {self.describe()}: {reason}") from None
        con.autocommit = True
        return con

    def checkpoint(self) -> None:
        """Nothing to do: the server writes its own."""

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[Database]:
        con = self._open()
        try:
            if read_only:
                con.set_session(readonly=True, autocommit=True)
            yield PostgresDatabase(con)
        finally:
            con.close()

    def analyst_connection(self) -> duckdb.DuckDBPyConnection:
        self._open().close()  # one clear line when the server does not answer
        con = duckdb.connect()
        load_extension(con, "postgres_scanner")
        quoted = self.dsn.replace("'", "''")
        con.execute(f"attach '{quoted}' as warehouse (type postgres, read_only)")
        con.execute("use warehouse")
        return con

    def environment(self) -> dict[str, str]:
        return {"SHOPDUCK__DESTINATION": "postgres", "DESTINATION__POSTGRES__CREDENTIALS": self.dsn}

    @contextmanager
    def shop_lock(self, label: str) -> Iterator[None]:
        """`pg_try_advisory_lock` on the shop, on a connection of its own held for the whole
        extract and load: a second process skips the shop at once rather than waiting for it
        (the lock also goes if the process dies, with its connection). Re-entrant within the
        process: reconciliation holds its shops while it loads them."""
        with _HELD_GUARD:
            if label in self._held:
                self._held[label] += 1
                acquired = None
            else:
                acquired = self._open()
        try:
            if acquired is not None:
                with acquired.cursor() as cursor:
                    cursor.execute("select pg_try_advisory_lock(%s)", [lock_key(label)])
                    [(held,)] = cursor.fetchall()
                if not held:
                    raise ShopBusy(f"{label}: skipped, another load holds it")
                with _HELD_GUARD:
                    self._held[label] = 1
            yield
        finally:
            if acquired is not None:
                acquired.close()  # releases the lock
            with _HELD_GUARD:
                if label in self._held:
                    self._held[label] -= 1
                    if not self._held[label]:
                        del self._held[label]

    def prepare(self, db: Database) -> None:
        """Nothing to do: dlt creates every table (`raw_orders.payload` as jsonb)."""

    def migrate(self, pipeline: dlt.Pipeline) -> None:
        """dlt's migration, one process at a time: two loads creating the same new table (a
        new warehouse, a new column) at once fail with a duplicate-table error. With the
        schema stored, the load finds nothing left to change."""
        with self.connect() as db:
            db.rows("select pg_advisory_lock($key)", {"key": lock_key(SCHEMA_LOCK)})
            pipeline.sync_schema()


def capabilities_once(destination: Destination) -> Destination:
    """`destination`, working out its capabilities from the configuration once (dlt 1.31, the
    version pinned in pyproject.toml; recheck on upgrade). dlt resolves the destination's
    configuration anew for every `capabilities()` asked without one: three times as each
    shop's pipeline is made, again in its extract, normalize and load, half of making a
    pipeline. The configuration does not change within a run, and a naming convention that is
    not case sensitive (dlt's default) adjusts nothing, so those answers are copies of one."""
    resolve = destination.capabilities
    computed: list[DestinationCapabilitiesContext] = []

    def capabilities(
        config: DestinationClientConfiguration | None = None,
        naming: NamingConvention | None = None,
    ) -> DestinationCapabilitiesContext:
        if config is not None or (naming is not None and naming.is_case_sensitive):
            return resolve(config, naming)
        if not computed:
            computed.append(resolve())
        return copy.copy(computed[0])

    destination.capabilities = capabilities  # type: ignore[method-assign]
    return destination


def _identifier(writer: str) -> str:
    """`writer` as the tail of a schema name within Postgres's 63 characters (the shop's name
    shortened, with a hash that keeps shortened names apart)."""
    slug = re.sub(r"[^a-z0-9]+", "_", writer.lower()).strip("_")
    if len(slug) <= 40:
        return slug
    return f"{slug[:31]}_{hashlib.sha256(writer.encode()).hexdigest()[:8]}"


def _wait_until(
    attempt: Callable[[], T], busy: type[Exception], deadline: float, message: str
) -> T:
    """What `attempt` returns once it no longer fails with `busy`; `WarehouseBusy` with
    `message` if it still does at `deadline`."""
    while True:
        try:
            return attempt()
        except busy:
            if time.monotonic() >= deadline:
                raise WarehouseBusy(message) from None
            time.sleep(0.2)


def as_warehouse(warehouse: Warehouse | Path) -> Warehouse:
    """A warehouse; a path is a DuckDB file."""
    if isinstance(warehouse, Warehouse):
        return warehouse
    return DuckDBWarehouse(Path(warehouse).expanduser().resolve())


def postgres_warehouse(dsn: str | None = None, pipelines_dir: Path | None = None) -> Warehouse:
    """The Postgres warehouse of `dsn`, else of dlt's usual credentials
    (`DESTINATION__POSTGRES__CREDENTIALS` or `[destination.postgres.credentials]`). The local
    pipeline folders go to `SHOPDUCK__PIPELINES_DIR`, else `~/.shopduck/pipelines/<database>`:
    one per host and database, as cursors are restored from the warehouse when missing."""
    if dsn is None:
        try:
            credentials = resolve_configuration(
                PostgresCredentials(), sections=("destination", "postgres")
            )
        except ConfigurationException:
            raise ShopduckError(
                "the postgres destination needs credentials: set DESTINATION__POSTGRES__CREDENTIALS"
                " (postgresql://user:password@host:5432/database) or "
                "[destination.postgres.credentials] in .dlt/secrets.toml"
            ) from None
        dsn = credentials.to_native_representation()
    if pipelines_dir is None:
        configured = dlt.config.get("shopduck.pipelines_dir")
        parts = urlsplit(dsn)
        place = f"{parts.hostname}_{parts.port or 5432}_{parts.path.strip('/')}"
        pipelines_dir = (
            Path(str(configured)) if configured else Path.home() / ".shopduck" / "pipelines" / place
        )
    return PostgresWarehouse(dsn, Path(pipelines_dir).expanduser())


def configured_warehouse(destination: str | None = None, path: Path | None = None) -> Warehouse:
    """The warehouse a command works on: `destination` (`--destination`), else the setting
    `destination` of `[shopduck]` (`SHOPDUCK__DESTINATION`), else DuckDB; a DuckDB warehouse is
    the file `path` (`--warehouse`)."""
    chosen = destination or dlt.config.get("shopduck.destination") or "duckdb"
    if chosen == "postgres":
        return postgres_warehouse()
    if chosen != "duckdb":
        raise ShopduckError(f"unknown destination {chosen!r}: expected duckdb or postgres")
    return DuckDBWarehouse(path or Path(DEFAULT_WAREHOUSE).resolve())
