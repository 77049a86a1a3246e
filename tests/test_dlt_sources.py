"""Each platform as a plain dlt source (`platforms.<p>.<p>_source`), configured the dlt way
and run in a pipeline of the user's own: the warehouse it loads matches the simulator's model,
and a second run is incremental from the cursor kept in that pipeline's state."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import dlt
import pytest

from platforms import PLATFORMS
from simulators.registry import SIMULATORS, start_simulator
from tests.expected import expected_totals, warehouse_totals


def front_door(platform: str) -> Any:
    return getattr(importlib.import_module(f"platforms.{platform}"), f"{platform}_source")


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_source_takes_its_declared_settings_from_dlt_config(platform: str) -> None:
    parameters = inspect.signature(front_door(platform)).parameters
    declared = PLATFORMS[platform]
    assert [name for name, p in parameters.items() if p.default is dlt.secrets.value] == list(
        declared.credentials
    )
    assert parameters["base_url"].default is dlt.config.value
    assert set(declared.options) < set(parameters)


@pytest.mark.parametrize("platform", ["haravan", "lunasoft"])  # an updated_at and an id cursor
def test_a_platform_source_runs_in_any_dlt_pipeline(
    platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_simulator(platform, orders=60)
    try:
        section = f"SOURCES__{platform.upper()}__"
        monkeypatch.setenv(f"{section}BASE_URL", sim.base_url)
        for key, value in {
            **SIMULATORS[platform].credentials,
            **SIMULATORS[platform].options,
        }.items():
            monkeypatch.setenv(f"{section}{key.upper()}", value)
        source = front_door(platform)
        warehouse = tmp_path / "mine.duckdb"
        pipeline = dlt.pipeline(
            pipeline_name=f"my_{platform}",
            destination=dlt.destinations.duckdb(str(warehouse)),
            dataset_name="commerce",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        pipeline.run(source(shop="mine"))
        assert warehouse_totals(warehouse, platform, "mine") == expected_totals(platform, sim.store)

        changed = sim.store.visible()[0]
        sim.store.cancel(changed.id)
        requests_before = len(sim.requests)
        pipeline.run(source(shop="mine"))
        assert warehouse_totals(warehouse, platform, "mine") == expected_totals(platform, sim.store)
        first_request, second_run_request = sim.requests[0], sim.requests[requests_before]
        assert second_run_request != first_request  # filtered by the cursor in the state
    finally:
        sim.stop()


def test_the_readmes_own_pipeline_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Use a platform in your own dlt pipeline", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    sim = start_simulator("haravan", orders=30)
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
        monkeypatch.setenv("SOURCES__HARAVAN__BASE_URL", sim.base_url)
        monkeypatch.setenv("SOURCES__HARAVAN__ACCESS_TOKEN", "sim-token")
        exec(compile(example, "README.md", "exec"), {})
        totals = warehouse_totals(tmp_path / "my_haravan.duckdb", "haravan", "vn-main")
        assert totals == expected_totals("haravan", sim.store)
    finally:
        sim.stop()
