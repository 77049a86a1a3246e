"""The five simulators by platform id, with the credentials each expects, for the CLI,
the demo and the tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.haravan import HaravanApi
from simulators.model import Store
from simulators.server import LeakyBucket, Simulator


@dataclass(frozen=True)
class SimulatorSpec:
    """How to build one platform's simulator and the config keys a shop needs to reach it."""

    api: Callable[..., Any]
    currencies: tuple[str, ...]
    credentials: dict[str, str]  # config key -> value the simulator accepts
    authorization: str  # the Authorization header those credentials produce


SIMULATORS: dict[str, SimulatorSpec] = {
    "haravan": SimulatorSpec(
        HaravanApi, ("VND", "USD", "EUR"), {"access_token": "sim-token"}, "Bearer sim-token"
    ),
}


def start_simulator(
    platform: str,
    *,
    orders: int = 200,
    seed: int = 7,
    port: int = 0,
    rate_limit: bool = False,
    retry_after: str = "2.0",
) -> Simulator:
    """Start a platform's simulator on loopback with `orders` seeded orders."""
    spec = SIMULATORS[platform]
    store = Store(orders=orders, seed=seed, currencies=spec.currencies)
    api = spec.api(store, spec.authorization)
    bucket = LeakyBucket() if rate_limit else None
    return Simulator(api, store, port=port, rate_limit=bucket, retry_after=retry_after).start()
