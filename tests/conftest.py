"""Shared fixtures: simulators on loopback, a temporary warehouse, and a loader with fast
retries so fault tests run in milliseconds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.core import RunOptions, Shop
from pipelines.http import RetryPolicy
from pipelines.runner import ShopResult, load_shops
from simulators.registry import SIMULATORS, start_simulator
from simulators.server import Simulator

FAST_RETRY = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.2, timeout=1.0)


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .dlt folder or SOURCES__ variables."""
    monkeypatch.chdir(tmp_path)
    import os

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


def run_load(shops: list[Shop], warehouse: Path, **options: object) -> list[ShopResult]:
    """Load `shops` now with fast retries; asserts nothing."""
    run = RunOptions(started_at=datetime.now(UTC), retry=FAST_RETRY, **options)  # type: ignore[arg-type]
    return load_shops(shops, warehouse, run)


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


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
