"""The seam between the SQL layer and its two engines: one small `Database` interface over a
DuckDB connection or a psycopg2 (PostgreSQL) connection, and the reading of `sql/` files.

The files under `sql/` are written once, in SQL that both engines run. They name the schemas
by their default names (`commerce.orders`, `reporting.daily_sales`) so that each file also runs
as it is in a SQL client; `render` maps those names to the schemas configured in
`pipelines.settings` (`DATASET`, `REPORTING_SCHEMA`), which stay the one place that chooses them.
Query parameters are written `$name` (DuckDB's spelling) and bound from a mapping.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import duckdb
import psycopg2
import psycopg2.extensions

from pipelines.settings import DATASET, REPORTING_SCHEMA

if TYPE_CHECKING:  # pandas costs half a second to import: a load with nothing new needs none
    import pandas as pd

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

Params = Mapping[str, object]
_QUALIFIED = re.compile(r"\b(commerce|reporting)\.")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def render(sql: str, dataset: str = DATASET, reporting: str = REPORTING_SCHEMA) -> str:
    """`sql` with `commerce.` and `reporting.` qualified names moved to the given schemas."""
    schemas = {"commerce": dataset, "reporting": reporting}
    return _QUALIFIED.sub(lambda match: f"{schemas[match.group(1)]}.", sql)


def read_sql(relative: str, dataset: str = DATASET, reporting: str = REPORTING_SCHEMA) -> str:
    """The rendered text of `sql/<relative>`."""
    return render((SQL_DIR / relative).read_text(), dataset, reporting)


class Database(ABC):
    """A connection behind the few calls the SQL layer makes: rows or a data frame of a query,
    a parameterless script, a transaction, fresh planner statistics. `dialect` names the
    engine."""

    dialect: ClassVar[str]
    error: ClassVar[type[Exception]]  # the base class of the engine's SQL errors
    # whether a JSON column gives back the very text written to it (or a rendering of its own)
    keeps_json_text: ClassVar[bool]

    def rows(self, sql: str, params: Params | None = None) -> list[tuple]:
        """The rows of one query, with `$name` parameters bound from `params`."""
        return self._query(sql, params)[1]

    @abstractmethod
    def batches(self, sql: str, params: Params, size: int) -> Iterator[list[tuple]]:
        """The rows of one query, `size` at a time, streamed: memory stays flat however many
        rows the query has."""

    def frame(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        """One query's result as a data frame. Values are built the same way on both engines
        (money stays exact `Decimal`), so a report is identical whichever engine ran it."""
        columns, rows = self._query(sql, params)
        import pandas as pd

        return pd.DataFrame.from_records(rows, columns=columns)

    @abstractmethod
    def script(self, sql: str) -> None:
        """Run one or more statements that take no parameters and return nothing."""

    @abstractmethod
    def update_statistics(self, schema: str) -> None:
        """Make the planner's statistics of the tables in `schema` current."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything run inside commits together or not at all (both engines have
        transactional DDL, so this covers dropping and creating views and tables)."""
        self.script("begin transaction")
        try:
            yield
        except BaseException:
            self.script("rollback")
            raise
        self.script("commit")

    @abstractmethod
    def lock(self, name: str, *, shared: bool = False) -> None:
        """Inside a transaction: wait until no other connection holds the lock `name` (or,
        `shared`, holds it exclusively), then hold it until the transaction ends."""

    @abstractmethod
    def _query(self, sql: str, params: Params | None) -> tuple[list[str], list[tuple]]:
        """Column names and rows of one query."""


class DuckDBDatabase(Database):
    """A DuckDB connection (autocommit unless a transaction is open, as DuckDB always is)."""

    dialect = "duckdb"
    error = duckdb.Error
    keeps_json_text = True

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def script(self, sql: str) -> None:
        self.con.execute(sql)

    def update_statistics(self, schema: str) -> None:
        """Nothing to do: DuckDB keeps its statistics current as it writes."""

    def lock(self, name: str, *, shared: bool = False) -> None:
        """Nothing to do: a DuckDB file has one writing process (`Warehouse.writer_lock`)."""

    def batches(self, sql: str, params: Params, size: int) -> Iterator[list[tuple]]:
        result = self.con.execute(sql, dict(params))
        while rows := result.fetchmany(size):
            yield rows

    def _query(self, sql: str, params: Params | None) -> tuple[list[str], list[tuple]]:
        result = self.con.execute(sql, dict(params or {}))
        return [column[0] for column in result.description or ()], result.fetchall()


class PostgresDatabase(Database):
    """A psycopg2 connection, switched to autocommit: each query is its own transaction, as on
    DuckDB. Left in psycopg2's default mode, a reader that only ran a select would sit idle in
    a transaction holding locks on the reporting views, and the next rebuild would wait for it."""

    dialect = "postgres"
    error = psycopg2.Error
    keeps_json_text = False  # jsonb: spaces after separators, its own key order

    def __init__(self, con: psycopg2.extensions.connection) -> None:
        if not con.autocommit:
            con.autocommit = True
        self.con = con

    def script(self, sql: str) -> None:
        with self.con.cursor() as cursor:
            cursor.execute(sql)

    def update_statistics(self, schema: str) -> None:
        """`analyze` every table of `schema`. Right after a load, autovacuum has not analysed
        the new rows yet; planned on stale or no statistics, a join of the reporting views
        (the top refunded products over 100,000 orders) ran for over ten minutes instead of
        under a second."""
        tables = self.rows(
            "select table_name from information_schema.tables "
            "where table_schema = $schema and table_type = 'BASE TABLE'",
            {"schema": schema},
        )
        for (table,) in tables:
            self.script(f'analyze "{schema}"."{table}"')

    def lock(self, name: str, *, shared: bool = False) -> None:
        """`pg_advisory_xact_lock` (or `_shared`) on `name`."""
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        self.rows(f"select {function}($key)", {"key": lock_key(name)})

    def batches(self, sql: str, params: Params, size: int) -> Iterator[list[tuple]]:
        """Through a server-side cursor (`with hold`, as the connection is in autocommit)."""
        with self.con.cursor(name=f"shopduck_{uuid.uuid4().hex}", withhold=True) as cursor:
            cursor.execute(_bound(sql), dict(params))
            while rows := cursor.fetchmany(size):
                yield rows

    def _query(self, sql: str, params: Params | None) -> tuple[list[str], list[tuple]]:
        with self.con.cursor() as cursor:
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(_bound(sql), dict(params))
            columns = [column[0] for column in cursor.description or ()]
            return columns, cursor.fetchall() if cursor.description else []


def _bound(sql: str) -> str:
    """`sql` with psycopg2's `%(name)s` for each `$name`, and a literal `%` (modulo, like)
    doubled."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of `name`, the same in every process and on every host
    (sha256, unlike Python's salted `hash`)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


Connection = duckdb.DuckDBPyConnection | psycopg2.extensions.connection | Database


def database(con: Connection) -> Database:
    """`con` behind the `Database` interface (a `Database` is returned as it is)."""
    if isinstance(con, Database):
        return con
    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBDatabase(con)
    if isinstance(con, psycopg2.extensions.connection):
        return PostgresDatabase(con)
    raise TypeError(f"not a DuckDB or psycopg2 connection: {type(con).__name__}")
