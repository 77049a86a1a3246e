"""The five simulators by platform id, with the credentials each expects, for the CLI,
the demo and the tests."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulators.flickrocket import FlickRocketApi
from simulators.haravan import HaravanApi
from simulators.lunasoft import LunasoftApi
from simulators.merchantpro import MerchantProApi
from simulators.model import Store
from simulators.server import LeakyBucket, Simulator
from simulators.spiffy import SpiffyApi


@dataclass(frozen=True)
class SimulatorSpec:
    """How to build one platform's simulator and the config keys a shop needs to reach it."""

    api: Callable[..., Any]
    currencies: tuple[str, ...]
    credentials: dict[str, str]  # config key -> value the simulator accepts
    authorization: str  # the Authorization header those credentials produce
    options: dict[str, str] = field(default_factory=dict)  # other shop keys it needs


SPIFFY_BASIC = "Basic " + base64.b64encode(b"sim-key:sim-password").decode()

SIMULATORS: dict[str, SimulatorSpec] = {
    "flickrocket": SimulatorSpec(
        FlickRocketApi, ("EUR", "USD"), {"access_token": "sim-token"}, "Bearer sim-token"
    ),
    "haravan": SimulatorSpec(
        HaravanApi, ("VND", "USD", "EUR"), {"access_token": "sim-token"}, "Bearer sim-token"
    ),
    "lunasoft": SimulatorSpec(
        LunasoftApi, ("USD",), {"api_key": "sim-token"}, "Bearer sim-token", {"currency": "USD"}
    ),
    "merchantpro": SimulatorSpec(
        MerchantProApi,
        ("RON", "USD"),
        {"api_key": "sim-key", "api_secret": "sim-secret"},
        "Basic " + base64.b64encode(b"sim-key:sim-secret").decode(),
    ),
    "spiffy": SimulatorSpec(
        SpiffyApi,
        ("AUD", "USD"),
        {"api_key": "sim-key", "password": "sim-password"},
        SPIFFY_BASIC,
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
