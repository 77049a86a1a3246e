"""Fixtures: isolation from the developer's configuration, simulators on loopback, a temporary
warehouse and a shared demo warehouse. Plain helpers live in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulators.registry import start_simulator
from simulators.server import Simulator

# Tests reach nothing but loopback: dlt's anonymous telemetry stays off in this process too
# (where tests run pipelines of their own, as a source's user does), not only in shopduck's runs.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .dlt folder or SOURCES__ variables."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo warehouse (all five simulators, a full and an incremental load), built once per
    worker and only read: the modules using it share the xdist group "demo_warehouse"."""
    from pipelines.demo import run_demo

    warehouse = tmp_path_factory.mktemp("demo") / "shopduck.duckdb"
    assert run_demo(warehouse, orders=120) == 0
    return warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    """Factory: start a platform's simulator (stopped after the test)."""
    started: list[Simulator] = []

    def start(platform: str, orders: int = 120, **kwargs: object) -> Simulator:
        sim = start_simulator(platform, orders=orders, retry_after="0.01", **kwargs)  # type: ignore[arg-type]
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
