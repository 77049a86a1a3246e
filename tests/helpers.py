"""Helpers the scenario tests share: shops that reach the simulators, loads with fast retries,
warehouse queries, another process holding the warehouse, and fresh Postgres databases (which
skip the calling test where no server answers, and fail it under CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.extensions
import pytest

from pipelines import models
from pipelines.http import RetryPolicy
from pipelines.runner import ShopResult, load_shops
from pipelines.shop import RunOptions, Shop
from pipelines.warehouse import PostgresWarehouse, Warehouse, as_warehouse, postgres_warehouse
from simulators.registry import SIMULATORS
from simulators.server import Simulator
from transforms.tables import Table

FAST_RETRY = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.2, timeout=1.0)
# the memory limit DuckDB enforces (`current_setting('memory_limit')` gives the setting's value,
# which `RESET` changes alone)
ENFORCED_LIMIT = "select memory_limit from pragma_database_size()"


def table_row(table: Table, **values: object) -> dict[str, object]:
    """A row of `table` with `values` and NULL in the columns a test does not need (a row must
    say every column); a key that is not a column stays, for `to_arrow` to refuse."""
    return dict.fromkeys(table.column_names) | values


def shop_for(platform: str, sim: Simulator, name: str | None = None, **overrides: object) -> Shop:
    """A shop configured to reach `sim` with the credentials it accepts."""
    fields: dict = {
        "platform": platform,
        "name": name or f"test-{platform}",
        "base_url": sim.base_url,
        "secrets": SIMULATORS[platform].credentials,
        "options": SIMULATORS[platform].options,
    }
    fields.update(overrides)
    return Shop(**fields)


def run_load(shops: list[Shop], warehouse: Warehouse | Path, **options: object) -> list[ShopResult]:
    """Load `shops` now with fast retries; asserts nothing."""
    run = RunOptions(started_at=datetime.now(UTC), retry=FAST_RETRY, **options)  # type: ignore[arg-type]
    return load_shops(shops, warehouse, run)


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def rows(warehouse: Warehouse | Path, sql: str, params: dict | None = None) -> list[tuple]:
    """The rows of one query on either engine (`$name` parameters)."""
    with as_warehouse(warehouse).connect(read_only=True) as db:
        return db.rows(sql, params)


@contextmanager
def held_by_another_process(warehouse: Path, read_only: bool) -> Iterator[None]:
    """Another process holds the warehouse open (a notebook reading, or a load writing)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r');"
            " print('ready', flush=True); time.sleep(60)",
            str(warehouse),
            "r" if read_only else "w",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.kill()
        holder.wait()


POSTGRES_DSN = os.environ.get(
    "SHOPDUCK_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


# The demo's shops in three calendars; lunasoft is left out of commerce.shops (so: UTC).
@contextmanager
def fresh_postgres_database() -> Iterator[psycopg2.extensions.connection]:
    """A connection to a new, empty database with a unique name, dropped afterwards. Skips the
    calling test (or fixture) when no PostgreSQL server answers."""
    try:
        admin = psycopg2.connect(POSTGRES_DSN, connect_timeout=3)
    except psycopg2.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        message = (
            f"no PostgreSQL server at {POSTGRES_DSN!r} ({reason}); "
            "set SHOPDUCK_TEST_POSTGRES to a libpq connection string to run these tests"
        )
        if os.environ.get("CI"):  # CI starts a server (.ci/run): there, a skip would hide a gap
            pytest.fail(message)
        pytest.skip(message)
    admin.autocommit = True
    name = f"shopduck_test_{uuid.uuid4().hex[:16]}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create database {name}")
        con = psycopg2.connect(POSTGRES_DSN, dbname=name)
        try:
            yield con
        finally:
            con.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
        admin.close()


@contextmanager
def fresh_postgres_warehouse(folder: Path) -> Iterator[PostgresWarehouse]:
    """A Postgres warehouse in a fresh database (see `fresh_postgres_database`), its local
    pipeline folders under `folder`."""
    with fresh_postgres_database() as con:
        found = con.get_dsn_parameters()
        # dlt's credentials want a password, which trust authentication ignores
        password = psycopg2.extensions.parse_dsn(POSTGRES_DSN).get("password", "x")
        dsn = (
            f"postgresql://{found['user']}:{password}@{found.get('host', '127.0.0.1')}:"
            f"{found.get('port', '5432')}/{found['dbname']}"
        )
        warehouse = postgres_warehouse(dsn, folder / "pipelines")
        assert isinstance(warehouse, PostgresWarehouse)
        yield warehouse


def copy_commerce(
    duck: duckdb.DuckDBPyConnection, pg: psycopg2.extensions.connection, folder: Path
) -> None:
    """Copy every table of DuckDB's `commerce` schema (but dlt's own) into a `commerce` schema
    in Postgres, through CSV. DuckDB's type names are Postgres's, but for DOUBLE; JSON becomes
    jsonb as dlt's postgres destination makes it. DuckDB quotes empty strings in CSV, so ''
    and NULL stay apart."""
    tables = [
        name
        for (name,) in duck.execute(
            "select table_name from information_schema.tables where table_schema = 'commerce'"
        ).fetchall()
        if not name.startswith("_dlt")
    ]
    with pg.cursor() as cursor:
        cursor.execute("create schema if not exists commerce")
        for table in tables:
            columns = duck.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'commerce' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            types = {"DOUBLE": "double precision", "JSON": "jsonb"}
            ddl = ", ".join(f"{column} {types.get(kind, kind)}" for column, kind in columns)
            cursor.execute(f"create table commerce.{table} ({ddl})")
            path = folder / f"{table}.csv"
            duck.execute(f"copy commerce.{table} to '{path}' (format csv, header)")
            with open(path) as data:
                cursor.copy_expert(
                    f"copy commerce.{table} from stdin with (format csv, header)", data
                )
    pg.commit()


def write_shops(duck: duckdb.DuckDBPyConnection, timezones: dict[tuple[str, str], str]) -> None:
    """Make `commerce.shops` hold exactly `timezones` (the table the loader writes from each
    shop's TIMEZONE option)."""
    duck.execute(
        "create table if not exists commerce.shops (platform varchar, shop varchar, timezone varchar)"
    )
    duck.execute("delete from commerce.shops")
    duck.executemany(
        "insert into commerce.shops (platform, shop, timezone) values (?, ?, ?)",
        [(platform, shop, zone) for (platform, shop), zone in timezones.items()],
    )


def break_a_model(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Point the model runner at a copy of `sql/` with one more mart, which fails to build."""
    copy = folder / "sql"
    shutil.copytree(models.SQL_DIR, copy)
    (copy / "marts" / "zz_broken.sql").write_text(
        "create view reporting.zz_broken as select no_such_column from reporting.orders\n"
    )
    monkeypatch.setattr(models, "SQL_DIR", copy)
