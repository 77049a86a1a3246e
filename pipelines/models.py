"""The SQL layer: applies the `sql/` models (staging, intermediate, marts, in that order) to
the warehouse and runs the zero-row assertion queries in `sql/tests/`. Most models are views;
the daily and product aggregates are tables, rebuilt with the rest after every load."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from pipelines.settings import DATASET, REPORTING_SCHEMA

log = logging.getLogger("shopduck.models")

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
LAYERS = ("staging", "intermediate", "marts")


def model_files() -> list[Path]:
    """Model files in dependency order: layer by layer, alphabetically within a layer."""
    return [path for layer in LAYERS for path in sorted((SQL_DIR / layer).glob("*.sql"))]


def apply_models(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the `reporting` schema from the models: nothing else lives there, so a model
    that was removed or changed from view to table leaves nothing stale. Within a layer a model
    may read another one, so models whose inputs do not exist yet are retried after the rest."""
    con.execute(f"drop schema if exists {REPORTING_SCHEMA} cascade")
    con.execute(f"create schema {REPORTING_SCHEMA}")
    pending = model_files()
    while pending:
        failed: list[tuple[Path, duckdb.Error]] = []
        for path in pending:
            try:
                con.execute(path.read_text())
            except duckdb.CatalogException as error:
                failed.append((path, error))
        if len(failed) == len(pending):
            path, error = failed[0]
            raise RuntimeError(f"model {path.name} cannot be built: {error}") from error
        pending = [path for path, _ in failed]


def run_checks(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Each assertion query's offending rows (an empty list means it passed)."""
    return {
        path.stem: con.execute(path.read_text()).fetchall()
        for path in sorted((SQL_DIR / "tests").glob("*.sql"))
    }


def has_data(con: duckdb.DuckDBPyConnection) -> bool:
    """True once a load has created the commerce tables the models read."""
    found = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = 'orders'",
        [DATASET],
    ).fetchone()
    return bool(found and found[0])


def refresh_models(warehouse: Path) -> dict[str, list[tuple]]:
    """Rebuild the reporting models, then run the checks as warnings that never block a load."""
    with duckdb.connect(str(warehouse)) as con:
        if not has_data(con):
            return {}
        apply_models(con)
        failures = {name: rows for name, rows in run_checks(con).items() if rows}
    for name, rows in failures.items():
        log.warning("data check %s: %d offending row(s), e.g. %s", name, len(rows), rows[0])
    return failures
