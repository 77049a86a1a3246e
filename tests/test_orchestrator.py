"""The Dagster example (examples/dagster_shopduck.py) builds one asset per configured shop and a
reporting asset after them, and materializing them in-process loads every shop into a Postgres
warehouse exactly and builds the reporting models there."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest

from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import fresh_postgres_warehouse

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dagster_shopduck.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dagster_shopduck", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dagster_example_loads_each_shop_as_an_asset_into_postgres(
    simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sims = {platform: simulator(platform, orders=40) for platform in ("haravan", "lunasoft")}
    for platform, sim in sims.items():
        section = f"SOURCES__{platform.upper()}__"
        monkeypatch.setenv(f"{section}BASE_URL", sim.base_url)
        monkeypatch.setenv(f"{section}SHOP", f"dagster-{platform}")
        for key, value in {
            **SIMULATORS[platform].credentials,
            **SIMULATORS[platform].options,
        }.items():
            monkeypatch.setenv(f"{section}{key.upper()}", value)
    with fresh_postgres_warehouse(tmp_path) as warehouse:
        monkeypatch.setenv("SHOPDUCK__DESTINATION", "postgres")
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", warehouse.dsn)
        monkeypatch.setenv("SHOPDUCK__PIPELINES_DIR", str(tmp_path / "dagster-pipelines"))

        example = load_example()
        keys = {key.to_user_string() for key in example.defs.resolve_all_asset_keys()}
        assert keys == {
            "shopduck/haravan__dagster_haravan",
            "shopduck/lunasoft__dagster_lunasoft",
            "shopduck/reporting",
        }
        result = dg.materialize([*example.SHOPS, example.reporting])
        assert result.success

        for platform, sim in sims.items():
            loaded = warehouse_totals(warehouse, platform, f"dagster-{platform}")
            assert loaded == expected_totals(platform, sim.store)
        with warehouse.connect(read_only=True) as db:
            [(orders,)] = db.rows("select count(*) from reporting.orders")
        assert orders == sum(len(sim.store.visible()) for sim in sims.values())
