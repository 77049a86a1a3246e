"""The simulators by platform id, for the CLI, the demo and the tests: every module of this
package that declares a `SIMULATOR` (`simulators.server.SimulatorSpec`), under its module name."""

from __future__ import annotations

import importlib
import pkgutil
import zlib

import simulators
from simulators.model import Store
from simulators.server import FixedWindow, Gauge, LeakyBucket, RateLimit, Simulator, SimulatorSpec


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
    rate_limit: bool | RateLimit = False,
    retry_after: str = "2.0",
    page_cap: int | None = None,
    latency: float = 0.0,
    gauge: Gauge | None = None,
) -> Simulator:
    """Start a platform's simulator on loopback with `orders` seeded orders; `page_cap` makes
    it serve at most that many orders a list page, whatever the request asks for.
    `rate_limit`: True for the platform's documented limit (Haravan's leaky bucket of 80 calls
    leaking 4 a second; the others, which document none, 2 requests a second announced in
    `X-RateLimit-*` headers), or a limit of one's own. `latency`: seconds every answer takes.
    `gauge`: counts the requests served at once (shared by simulators, across them)."""
    spec = SIMULATORS[platform]
    store = Store(
        orders=orders, seed=seed + zlib.crc32(platform.encode()), currencies=spec.currencies
    )
    api = spec.api(store, spec.authorization)
    api.page_cap = page_cap
    if rate_limit is True:
        rate_limit = LeakyBucket() if api.rate_limit_header else FixedWindow()
    return Simulator(
        api,
        store,
        port=port,
        rate_limit=rate_limit or None,
        retry_after=retry_after,
        latency=latency,
        gauge=gauge,
    ).start()
