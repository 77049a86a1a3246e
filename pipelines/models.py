"""The SQL layer: builds the `sql/` models into the reporting schema and runs the zero-row
assertions, on DuckDB or PostgreSQL alike (through `pipelines.sql`).

A model is one file `sql/<layer>/<name>.sql` that creates `reporting.<name>`: a view, or a
table for the aggregates dashboards read. The models it reads are the `reporting.<model>` names
in its SQL, so the build order is derived from the files themselves (no list to keep in step,
and no retrying until everything happens to exist). The `reporting` schema is dropped and
rebuilt in one transaction: nothing else lives there, so a model that was removed leaves
nothing stale, and a reader sees the previous models or the new ones, never half of them.

Every query in `sql/tests/` returns the rows that break it (none when the data is sound); the
unique-key checks of the commerce tables are generated from `transforms/tables.py`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from pipelines.errors import ShopduckError
from pipelines.settings import DATASET, REPORTING_SCHEMA
from pipelines.sql import SQL_DIR, Connection, Database, database, render
from pipelines.warehouse import Warehouse, as_warehouse
from transforms.tables import TABLES

# The advisory lock of the models: loads finishing at once on a shared warehouse rebuild one
# after the other (dropping a schema another transaction is rebuilding fails in Postgres), and
# shopduck's own readers (checks, `shopduck report`) share it: a query reading several models
# while a rebuild drops them deadlocks in Postgres.
MODELS_LOCK = "shopduck:models"

log = logging.getLogger("shopduck.models")

LAYERS = ("staging", "intermediate", "marts")
_COMMENT = re.compile(r"--[^\n]*")
_READS = re.compile(r"\breporting\.(\w+)")


class ModelError(ShopduckError):
    """The models cannot be built: a model fails, reads a model that does not exist, or the
    models read each other in a cycle."""


@dataclass(frozen=True)
class Model:
    """One model file: its name (the file's stem), its SQL and the models it reads."""

    name: str
    path: Path
    sql: str
    reads: frozenset[str]


def load_models() -> dict[str, Model]:
    """Every model under `sql/<layer>/`, by name."""
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((SQL_DIR / layer).glob("*.sql")):
            if path.stem in models:
                raise ModelError(f"two models are named {path.stem}: {models[path.stem].path}")
            sql = path.read_text()
            reads = frozenset(_READS.findall(_COMMENT.sub("", sql))) - {path.stem}
            models[path.stem] = Model(path.stem, path, sql, reads)
    return models


def build_order(models: dict[str, Model]) -> list[Model]:
    """`models` with every model after the models it reads (the same order on every run)."""
    for model in models.values():
        unknown = sorted(model.reads - models.keys())
        if unknown:
            raise ModelError(f"{model.path.name} reads reporting.{unknown[0]}: no model creates it")
    graph = TopologicalSorter({name: sorted(models[name].reads) for name in sorted(models)})
    try:
        return [models[name] for name in graph.static_order()]
    except CycleError as error:
        raise ModelError(
            f"models read each other in a cycle: {' -> '.join(error.args[1])}"
        ) from None


def apply_models(
    con: Connection, dataset: str = DATASET, reporting: str = REPORTING_SCHEMA
) -> None:
    """Rebuild schema `reporting` from the models, reading the commerce tables in `dataset`."""
    db = database(con)
    models = build_order(load_models())
    with db.transaction():
        db.lock(MODELS_LOCK)
        db.update_statistics(dataset)
        db.script(f"drop schema if exists {reporting} cascade")
        db.script(f"create schema {reporting}")
        for model in models:
            try:
                db.script(render(model.sql, dataset, reporting))
            except db.error as error:
                where = model.path.relative_to(SQL_DIR)
                reason = str(error).strip().splitlines()[0]
                raise ModelError(
                    f"model {model.name} ({where}) cannot be built on {db.dialect}: {reason}"
                ) from error
        db.update_statistics(reporting)


def unique_key_checks(db: Database, dataset: str = DATASET) -> dict[str, str]:
    """A query per table of `transforms.tables.TABLES` in the warehouse: the keys it holds more
    than once. (A table a load has not created yet holds no duplicate.)"""
    present = {
        name
        for (name,) in db.rows(
            "select table_name from information_schema.tables where table_schema = $schema",
            {"schema": dataset},
        )
    }
    checks = {}
    for table in TABLES:
        if table.name in present:
            key = ", ".join(table.key)
            checks[f"unique_key_{table.name}"] = (
                f"select {key}, count(*) as copies from {dataset}.{table.name} "
                f"group by {key} having count(*) > 1"
            )
    return checks


def run_checks(
    con: Connection, dataset: str = DATASET, reporting: str = REPORTING_SCHEMA
) -> dict[str, list[tuple]]:
    """Each assertion's offending rows (an empty list means it passed). Each runs in a
    transaction of its own, holding the models' lock shared (a rebuild elsewhere waits)."""
    db = database(con)
    checks = {
        path.stem: render(path.read_text(), dataset, reporting)
        for path in sorted((SQL_DIR / "tests").glob("*.sql"))
    }
    checks.update(unique_key_checks(db, dataset))
    return {name: _offending(db, name, sql) for name, sql in checks.items()}


def _offending(db: Database, name: str, sql: str) -> list[tuple]:
    """A check's offending rows; none, with a warning, where it cannot run (out of memory):
    the checks never fail a load."""
    try:
        with db.transaction():
            db.lock(MODELS_LOCK, shared=True)
            return db.rows(sql)
    except db.error as error:
        reason = str(error).strip().splitlines()[0]
        log.warning("data check %s could not run on %s: %s", name, db.dialect, reason)
        return []


def has_data(con: Connection, dataset: str = DATASET) -> bool:
    """True once a load has created the commerce tables the models read."""
    found = database(con).rows(
        "select count(*) from information_schema.tables "
        "where table_schema = $schema and table_name = 'orders'",
        {"schema": dataset},
    )
    return bool(found and found[0][0])


def refresh(con: Connection) -> dict[str, list[tuple]]:
    """Rebuild the reporting models on any connection, then run the checks as warnings that
    never block a load. Returns the failing checks' offending rows."""
    if not has_data(con):
        return {}
    apply_models(con)
    failures = {name: rows for name, rows in run_checks(con).items() if rows}
    for name, rows in failures.items():
        log.warning("data check %s: %d offending row(s), e.g. %s", name, len(rows), rows[0])
    return failures


def refresh_models(warehouse: Warehouse | Path) -> dict[str, list[tuple]]:
    """`refresh` on a warehouse (a path is a DuckDB file)."""
    with as_warehouse(warehouse).connect() as db:
        return refresh(db)
