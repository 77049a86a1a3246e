"""The simulators by platform id, for the CLI, the demo and the tests: every module of this
package that declares a `SIMULATOR` (`simulators.server.SimulatorSpec`), under its module name."""

from __future__ import annotations

import importlib
import pkgutil
import zlib

import simulators
from simulators.model import Store
from simulators.server import LeakyBucket, Simulator, SimulatorSpec


def _declared() -> dict[str, SimulatorSpec]:
    found = {}
    for module in pkgutil.iter_modules(simulators.__path__):
        spec = getattr(importlib.import_module(f"simulators.{module.name}"), "SIMULATOR", None)
        if spec is not None:
            found[module.name] = spec
    return found


SIMULATORS: dict[str, SimulatorSpec] = _declared()


def start_simulator(
    platform: str,
    *,
    orders: int = 200,
    seed: int = 7,
    port: int = 0,
    rate_limit: bool = False,
    retry_after: str = "2.0",
    page_cap: int | None = None,
) -> Simulator:
    """Start a platform's simulator on loopback with `orders` seeded orders; `page_cap` makes
    it serve at most that many orders a list page, whatever the request asks for."""
    spec = SIMULATORS[platform]
    store = Store(
        orders=orders, seed=seed + zlib.crc32(platform.encode()), currencies=spec.currencies
    )
    api = spec.api(store, spec.authorization)
    api.page_cap = page_cap
    bucket = LeakyBucket() if rate_limit else None
    return Simulator(api, store, port=port, rate_limit=bucket, retry_after=retry_after).start()
